"""Data sets: the synthetic social-credit population and loaders for public data.

Dataset cards (source, licence, columns, protected attributes, caveats) are in
the repository's ``datasets/`` folder.  Data files are never shipped with the
package: public data sets are read from a local copy (``path=``,
``$AUDIT_DATA_DIR`` or the user cache filled by ``audit datasets fetch NAME``).
"""

from audit.datasets._synthetic import generate_sesame, load_config, write_sesame

__all__ = ["generate_sesame", "load_config", "write_sesame"]

try:  # the loaders land separately; keep the synthetic generator importable meanwhile
    from audit.datasets._fetch import fetch  # noqa: F401
    from audit.datasets._loaders import *  # noqa: F401,F403
    from audit.datasets._loaders import __all__ as _loader_names
    from audit.datasets._registry import list_datasets  # noqa: F401

    __all__ += [*_loader_names, "fetch", "list_datasets"]
except ImportError:  # pragma: no cover
    pass
