"""Offline evaluation of the vision models: never imported by the camera runtime.

``crop_set``: the mask classifier on a folder of labelled face crops; ``scenes``: annotated
photos through the camera's own path; ``review``: what that counted wrong, shown to a
person, and the person's audit; ``folds``: the model's cross-validation record; ``cli``:
``canteen-agent vision eval``.
"""
