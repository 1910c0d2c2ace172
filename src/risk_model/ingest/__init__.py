"""From a folder of regulator files to canonical tables: reading, parsing, validation and an account
of every row; `adapters` translate other regulators' formats. Nothing here builds features."""
