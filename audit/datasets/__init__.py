"""Data sets: the synthetic social-credit population and loaders for public data.

Dataset cards (source, licence, columns, protected attributes, caveats) are in
the repository's ``datasets/`` folder.  Data files are never shipped with the
package: public data sets are read from a local copy (``path=``,
``$AUDIT_DATA_DIR`` or the user cache filled by ``audit datasets fetch NAME``).
"""

from audit.datasets._fetch import fetch
from audit.datasets._loaders import (
    Network,
    load_adult,
    load_compas,
    load_ego_facebook,
    load_email_eu_core,
    load_facebook100,
    load_fico,
    load_german_credit,
    load_taiwan_credit,
)
from audit.datasets._registry import list_datasets
from audit.datasets._synthetic import generate_sesame, load_config, write_sesame

__all__ = [
    "Network", "fetch", "generate_sesame", "list_datasets", "load_adult", "load_compas", "load_config",
    "load_ego_facebook", "load_email_eu_core", "load_facebook100", "load_fico", "load_german_credit",
    "load_taiwan_credit", "write_sesame",
]
