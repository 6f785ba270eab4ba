"""The attach socket: a runner process serves its release; cockpits and viewers attach to it.

`protocol` (paths, peer credentials, the line format), `server` (inside the runner process),
`client` (the cockpit's and `watch`'s link to a runner in another process).
"""
