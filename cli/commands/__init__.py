"""One module per `o2` subcommand; each exposes `register(app)`. Thin: printers do the rest."""
