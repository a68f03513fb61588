"""Mesos v1 HTTP API wire shapes and RecordIO framing.

Pure: no I/O (shared by controller, executor, localmesos).
"""
