"""The control API under `/fake/`: a person (or `python -m tests.fakes.slack.say`) types a command, presses a
button, submits a modal or sends an event over HTTP, and reads back what the bot answered and what people see.

Deliveries go over Socket Mode when the bot holds a connection, else as signed HTTP to the fake's `request_url`.
Each answer is JSON: `{"ok": true, ...}`, or `{"ok": false, "error": "..."}` with a 4xx status. `GET /fake`
lists the endpoints.
"""
