"""modelry on Ray Serve: the ingress runs modelry's app; each model version is a deployment.

Imported only by ``modelry serve --engine ray`` and ``modelry models scale --address``
(the ``ray`` extra); the embedded server never imports Ray (an import-linter contract).
"""
