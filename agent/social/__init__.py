"""The social end's own rules (社会端): invite codes, complaints and their answers, surveys.

What both the public listener (``agent/public/``) and the staff console's pages use:
invites and surveys are the school's own notes, kept through ``SocialStore`` (the
store's small key-value table, a named port beside the Recorder, like the console's
accounts); complaints, the school's answers and survey summaries are records through the
Recorder, queued for the platform. Nothing here serves HTTP.
"""
