"""The small pages a browser lands on after an OAuth round trip: what happened, and a way back to Slack."""

from __future__ import annotations

from html import escape

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
  body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; background: #f8f8fa;
         color: #1d1c1d; margin: 0; display: flex; min-height: 100vh; align-items: center; justify-content: center; }}
  main {{ background: #fff; border-radius: 12px; box-shadow: 0 1px 4px rgba(0,0,0,.12); padding: 40px 48px;
          max-width: 520px; text-align: center; }}
  .icon {{ font-size: 48px; line-height: 1; }}
  h1 {{ font-size: 22px; margin: 16px 0 8px; }}
  p {{ font-size: 16px; line-height: 1.5; color: #454245; }}
  a.button {{ display: inline-block; margin-top: 16px; padding: 10px 20px; border-radius: 6px; background: #4a154b;
              color: #fff; text-decoration: none; font-weight: 600; }}
  .hint {{ font-size: 13px; color: #696969; }}
</style>
</head>
<body>
<main role="main">
  <div class="icon" aria-hidden="true">{icon}</div>
  <h1>{title}</h1>
  <p id="message">{message}</p>
  {link}
  <p class="hint">You can close this tab.</p>
</main>
</body>
</html>
"""


# Inline SVG rather than emoji: every browser draws it, with or without an emoji font.
OK_ICON = (
    '<svg width="56" height="56" viewBox="0 0 56 56"><circle cx="28" cy="28" r="28" fill="#2eb67d"/>'
    '<path d="M16 29l8 8 16-17" stroke="#fff" stroke-width="5" fill="none" stroke-linecap="round"/></svg>'
)
PROBLEM_ICON = (
    '<svg width="56" height="56" viewBox="0 0 56 56"><circle cx="28" cy="28" r="28" fill="#ecb22e"/>'
    '<path d="M28 14v18" stroke="#fff" stroke-width="5" stroke-linecap="round"/>'
    '<circle cx="28" cy="41" r="3.5" fill="#fff"/></svg>'
)


def result_page(*, title: str, message: str, ok: bool, slack_url: str | None = None) -> str:
    link = f'<a class="button" href="{escape(slack_url)}">Back to Slack</a>' if slack_url else ""
    return PAGE.format(title=escape(title), message=escape(message), icon=OK_ICON if ok else PROBLEM_ICON, link=link)
