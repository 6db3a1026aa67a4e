"""Applications built on modelry's models: the layer under the API and the CLI.

An application turns predictions into a business decision (whom to contact, what it
earns). It imports every layer below it; the API exposes it over HTTP, the CLI as commands.
"""
