"""The agent as a GB/T 28181 device on a provincial or county video platform.

  * ``device``   registration (digest), keepalive, queries, INVITE/BYE, alarms (a component)
  * ``sip``      SIP over UDP: aiosipua's messages, the socket, client transactions, limits
  * ``manscdp``  the XML bodies: hardened reading (size, depth, no DTD/entities), GB2312/UTF-8
  * ``sdp``      the INVITE's SDP offer (Play/Playback/Download, y= SSRC, TCP setup) and answer
  * ``media``    MPEG-PS from FFmpeg (live) or GStreamer's mpegpsmux (H.264 copied); one live source a camera
  * ``rtp``      PS packs into RTP (RFC 3550) over UDP, or TCP with RFC 4571 framing
  * ``session``  one stream: a live view or a playback of the recording ring
"""
