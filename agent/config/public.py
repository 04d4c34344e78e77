"""The public section: the social end (社会端) parents' representatives and diners reach.

A listener of its own, apart from the staff console (none of the console's routes exist
on it), off by default; meant to sit behind the school's reverse proxy with TLS, or to
serve TLS itself when given a certificate. Every limit here bounds what one address, one
device or everyone together can make the box do.
"""

from __future__ import annotations

from pydantic import Field, FilePath, model_validator

from agent.config.base import Strict


class PublicConfig(Strict):
    """社会端: the public pages (representatives' view, complaints, surveys)."""

    enabled: bool = Field(False, description="Serve the public pages (off by default).")
    host: str = Field("127.0.0.1", description="Listen address: loopback behind the school's reverse proxy "
                                               "(docs/PUBLIC.md has an nginx example).")
    port: int = Field(8090, ge=0, le=65535, description="0: any free port (tests, the demo).")
    base_url: str | None = Field(None, max_length=300,
                                 description="The address parents open (https://…/public), printed in the QR codes; "
                                             "none: the address the request came to.")
    tls_cert_file: FilePath | None = Field(None, description="HTTPS served by the agent itself: the certificate.")
    tls_key_file: FilePath | None = Field(None, description="HTTPS: the certificate's private key.")
    forwarded_allow_ips: str = Field("127.0.0.1", description="Proxies whose X-Forwarded-For names the client "
                                                              "(comma-separated; the rate limits count that address).")
    workers: int = Field(16, ge=1, le=256, description="Requests served at once (and threads for them) in the "
                                                       "public side's own process; more are answered 503 at once.")
    nice: int = Field(10, ge=0, le=19, description="The public side's process runs at this lower CPU priority "
                                                   "(Linux nice): under a flood the stations come first.")
    invite_valid_days: int = Field(365, ge=1, le=3 * 366, description="A new invite code's default lifetime.")
    session_idle_min: float = Field(60, ge=1, le=24 * 60, description="A representative idle this long "
                                                                      "enters the code again.")
    code_attempts: int = Field(10, ge=1, le=1000, description="Wrong invite codes per address ...")
    code_window_s: float = Field(600, ge=10, le=86400, description="... within this window; then refused.")
    requests_per_min: int = Field(120, ge=10, le=100_000, description="Requests per address per minute.")
    complaints_per_address: int = Field(5, ge=1, le=10_000, description="Complaints per address ...")
    complaints_window_s: float = Field(3600, ge=10, le=7 * 86400, description="... within this window.")
    complaints_per_hour: int = Field(60, ge=1, le=100_000, description="Complaints from everyone together per hour ...")
    complaints_per_minute: int = Field(10, ge=1, le=10_000, description="... and per minute (a burst is spread: "
                                                                        "each one is a photo and a record to store).")
    survey_answers_per_address: int = Field(200, ge=1, le=100_000,
                                            description="Answers per address per survey (a school's Wi-Fi is "
                                                        "one address for many phones).")
    text_max: int = Field(1000, ge=50, le=10_000, description="Longest complaint or survey text, in characters.")
    upload_max_kb: int = Field(4096, ge=16, le=32768, description="Largest complaint photo accepted.")
    survey_text_to_platform: bool = Field(False, description="Send the surveys' free text in the summary "
                                                             "(otherwise it stays on the box).")
    still_every_s: float = Field(5, ge=1, le=600, description="The public camera stills refresh this often.")
    public_cameras: list[str] = Field(default_factory=list, description="Cameras the school shows its "
                                                                          "representatives (明厨亮灶).")
    live_cameras: list[str] = Field(default_factory=list, description="Of the public cameras, those whose live "
                                                                        "view representatives may open (off by "
                                                                        "default; see docs/PUBLIC.md).")
    live_fps: float = Field(2, ge=0.5, le=10, description="The live view's pictures per second.")
    live_max_side: int = Field(640, ge=160, le=1920, description="The live view's longest side, in pixels "
                                                                 "(whole frames, scaled down).")
    live_viewers_per_camera: int = Field(4, ge=1, le=50, description="Live viewers of one camera at once ...")
    live_viewers_total: int = Field(8, ge=1, le=100, description="... and of all cameras together; more are "
                                                                 "told it is full.")
    live_max_s: float = Field(600, ge=30, le=4 * 3600, description="A live viewing ends after this long "
                                                                   "(opening the page again goes on).")

    @model_validator(mode="after")
    def _live_bounded(self) -> PublicConfig:
        for camera in self.live_cameras:
            if camera not in self.public_cameras:
                raise ValueError(f"public.live_cameras: {camera!r} is not in public.public_cameras")
        if self.live_cameras and self.live_viewers_total >= self.workers:
            raise ValueError("public.live_viewers_total must stay below public.workers (each viewer holds a worker)")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> PublicConfig:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self
