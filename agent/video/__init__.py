"""Video for the provincial platform (明厨亮灶): stream relay, recording ring, video on demand.

FFmpeg from the distribution is the engine, run as a supervised child process; the
agent never decodes or transcodes video here (copy only), so this package imports
neither OpenCV nor NumPy.

  * ``ffmpeg``   one FFmpeg child under supervision: states, progress, back-off
  * ``relay``    camera stream -> platform media server, on command or continuously
  * ``ring``     per-camera recording in short MP4 segments, retention and disk share
  * ``cut``      a time range cut from the segments into one MP4 (concat, copy)
  * ``fetch``    the ``fetch_video`` command: cut, then the chunked media path
  * ``commands`` the platform commands and their argument models
"""
