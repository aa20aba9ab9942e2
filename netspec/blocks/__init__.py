"""The built-in blocks, written in the spec language itself: `library.yaml` beside this file.

This folder holds data only; `netspec.lang.library` reads it.
"""
