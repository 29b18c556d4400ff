"""Sans-I/O protocol layer: envelopes, codecs, frames, message assembly, codes.

Nothing here imports asyncio or picows: every module takes bytes and gives
messages or bytes back, so it is testable with no event loop.
"""
