"""What the routes and pages call: the database, the access log, keys and roles, the champion and its
registry, the stored lists, scoring and batching, and a charity page's contents. Nothing here knows
about HTTP beyond the status a refusal carries; the routes in `serve.routes` and `serve.web` do."""
