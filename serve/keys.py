"""Make an API key: `python -m serve.keys ROLE NAME` prints the key once, and the hashed entry
to add to RISK_SERVE_API_KEYS. Only the hash is ever configured."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError

from serve.internal.security import Role, hash_api_key, new_api_key
from serve.settings import ApiKey


def main(role: Annotated[Role, typer.Argument(help="What the key may do.")],
         name: Annotated[str, typer.Argument(help="Who holds the key, as the access log should name them "
                                                  "(ASCII letters, digits and . _ @ + -).")]) -> None:
    """Print a new API key and its settings entry."""
    key = new_api_key()
    try:
        entry = ApiKey(name=name, role=role, sha256=hash_api_key(key))
    except ValidationError as exc:
        raise typer.BadParameter(exc.errors()[0]["msg"], param_hint="NAME") from exc
    typer.echo(f"key (give it to {name}; it is not stored anywhere): {key}")
    typer.echo("entry for RISK_SERVE_API_KEYS: " + json.dumps(entry.model_dump(mode="json")))


if __name__ == "__main__":
    typer.run(main)
