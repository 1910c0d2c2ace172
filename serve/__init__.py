"""The scoring service: a FastAPI app over the champion model, its two review lists and case feedback.

Build it with `serve.main.create_app(settings)`, or start it with `risk-model serve`.
"""
