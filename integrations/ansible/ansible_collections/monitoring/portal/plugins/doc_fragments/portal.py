# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)
"""Documentation shared by the modules: how to reach the portal, and waiting for deployments."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of the portal, for example C(https://portal.example.org). C(/api/v1) is added.
      - Taken from the environment variable E(PORTAL_URL) when not set.
    type: str
  api_token:
    description:
      - A personal API token (create one on the portal's C(/profile/) page).
      - Taken from the environment variable E(PORTAL_API_TOKEN) when not set.
      - What the token may change is what its user may change (their teams' objects; staff everything).
    type: str
  validate_certs:
    description:
      - Whether to check the portal's TLS certificate.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for an answer to one request (a O(wait) adds its own time on top).
    type: int
    default: 30
"""

    WAIT = r"""
options:
  wait:
    description:
      - Return only when every deployment the change requested is confirmed by the Naemon nodes
        (or skipped because the rendered config did not change).
      - A deployment that fails (the node's verifier refused the config, or the reload was not
        confirmed) fails the task with the verifier's output. The change stays stored in the
        portal; the node keeps running its previous config.
      - Without O(wait), the task returns as soon as the change is stored; RV(deployments) lists
        the deployments that will follow.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long O(wait) waits, in seconds, before the task fails.
    type: int
    default: 120
"""
