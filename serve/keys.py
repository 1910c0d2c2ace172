"""Make an API key: `python -m serve.keys ROLE NAME` prints the key once, and the hashed entry
to add to RISK_SERVE_API_KEYS. Only the hash is ever configured."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from serve.internal.security import Role, hash_api_key, new_api_key


def main(role: Annotated[Role, typer.Argument(help="What the key may do.")],
         name: Annotated[str, typer.Argument(help="Who holds the key, as the access log should name them.")]) -> None:
    """Print a new API key and its settings entry."""
    key = new_api_key()
    typer.echo(f"key (give it to {name}; it is not stored anywhere): {key}")
    typer.echo("entry for RISK_SERVE_API_KEYS: " + json.dumps({"name": name, "role": role.value,
                                                                "sha256": hash_api_key(key)}))


if __name__ == "__main__":
    typer.run(main)
