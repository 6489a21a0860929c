"""Record erasure with folding defeated: 10 s of denied connects, each to another port of a denied host (no two decisions identical); the marker span recorded before must survive (default journal settings)."""
from vlib import *  # noqa: F401,F403
import records_flood_same as base

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
DAEMON = {}
TIMEOUT = 60
SINKS_OK = []
base.VARY = True
job, judge = base.job, base.judge

if __name__ == "__main__":
    main(globals())
