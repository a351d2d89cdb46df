"""upysock: run a Pycom board's MicroPython script on CPython, over libupysock.

`python3 -m upysock script.py` (or `upysock-run script.py`) runs the script as the board would:
its socket, select, ssl, errno, time and _thread modules are the device modules of the C
extension `upysock._upysock`; see docs/python.md.
"""
