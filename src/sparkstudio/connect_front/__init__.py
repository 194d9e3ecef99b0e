"""The per-user Spark Connect front: short-lived signed tokens and the gRPC proxy that
checks them, so that a Spark session belongs to the user its token names."""

from sparkstudio.connect_front.proxy import ConnectFront
from sparkstudio.connect_front.tokens import ConnectClaims, InvalidConnectToken, mint, verify
from sparkstudio.connect_front.upstreams import Upstream

__all__ = ["ConnectClaims", "ConnectFront", "InvalidConnectToken", "Upstream", "mint", "verify"]
