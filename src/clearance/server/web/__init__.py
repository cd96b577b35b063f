"""The server-rendered dashboard: Jinja2 pages, inline SVG charts, cookie sessions with CSRF."""
