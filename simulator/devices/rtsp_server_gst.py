"""An IP camera's RTSP server: H.264 from a live test pattern (or an MP4 file), over RTSP.

Run by ``simulator.devices.cameras.RtspCamera`` with the *system* Python (``/usr/bin/python3``),
because it needs GStreamer's RTSP server through PyGObject from the distribution
(``python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,ugly}``),
which a virtual environment does not see. It uses only the standard library and gi.

FFmpeg has no RTSP server for players (its RTSP muxer only pushes to one), so the
camera side is GStreamer's, the way many real cameras embed it. Each client (relay,
recorder) gets its own encoder: GStreamer's shared media stalls the clients already
playing for several seconds whenever one more joins, which no real camera does.

    /usr/bin/python3 simulator/devices/rtsp_server_gst.py --port 8554 --path /cam
"""

from __future__ import annotations

import argparse
import signal
import sys


def pipeline(width: int, height: int, fps: int, bitrate_kbps: int, gop: int, pattern: str) -> str:
    return (f"( videotestsrc is-live=true pattern={pattern} ! "
            f"video/x-raw,width={width},height={height},framerate={fps}/1 ! "
            f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate_kbps} key-int-max={gop} "
            f"threads=1 ! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )")


def file_pipeline(path: str) -> str:
    """A pre-encoded MP4 (H.264) played at its own pace, each client from its start: no encoder
    in the camera, so a benchmark's measurement gets the CPU and the bitrate the file was made with."""
    return f"( filesrc location={path} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--bitrate-kbps", type=int, default=300)
    parser.add_argument("--gop", type=int, default=0, help="frames between key frames (default: 1 s)")
    parser.add_argument("--pattern", default="ball")
    parser.add_argument("--file", help="serve this MP4 (H.264) instead of encoding a pattern")
    args = parser.parse_args(argv)

    import gi  # the distribution's PyGObject

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(file_pipeline(args.file) if args.file else
                       pipeline(args.width, args.height, args.fps, args.bitrate_kbps, args.gop or args.fps, args.pattern))
    factory.set_shared(False)  # shared media stalls every client for seconds when one more joins
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"ready rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
