"""Protocol Buffers: ``envelope.proto``, its generated module and the v2.proto codec."""
