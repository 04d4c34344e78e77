"""The kitchen console: the agent's own web pages, served from the box.

- station screens (``/station/<id>``): what the person at a station must see now,
  pushed by server-sent events from the station workflow's feedback;
- the manager's pages (login): today, alarms (acknowledge, resolve → ``rectification``),
  the routine daily check, records and CSV export. They read the store and write only
  through the Recorder, so they show and make the same records the platform gets.

Starlette on uvicorn, Jinja2 templates, a few lines of plain JS; every asset is served
from this package (no CDN, no build step), so it works with the uplink down.
"""
