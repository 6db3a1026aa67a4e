"""Applications built on modelry's models: the top layer, above the CLI's commands only.

An application turns predictions into a business decision (whom to contact, what it
earns). It imports every layer below it; the CLI (and later the API) imports it.
"""
