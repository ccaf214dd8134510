import warnings

import pytest

import clvmodels


@pytest.fixture(scope="session")
def cdnow():
    return clvmodels.load_cdnow()


@pytest.fixture(scope="session")
def cdnow_calibration(cdnow):
    """The BG/NBD paper's frame: weeks 1-39 calibration, weeks 40-78 holdout, with spend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clvmodels.DataQualityWarning)
        return clvmodels.calibration_holdout(
            cdnow, calibration_end="1997-09-30", observation_end="1998-06-30",
            time_unit="W", amount="amount",
        )


@pytest.fixture(scope="session")
def fitted(cdnow_calibration):
    return clvmodels.BetaGeo().fit(cdnow_calibration), clvmodels.GammaGamma().fit(cdnow_calibration)


def pytest_collection_modifyitems(config, items):
    """The slow tests first, then the docstring examples (some fit every model on CDNOW), then
    the rest (each group in its order), so that under ``-n 2`` (pyproject's addopts) the longest
    start at once and the short ones fill in around them: in collection order the notebooks and
    the CDNOW reproductions came last and one worker ran them alone at the end."""
    def rank(item):
        if item.get_closest_marker("slow") is not None:
            return 0
        return 1 if isinstance(item, getattr(pytest, "DoctestItem", ())) else 2

    items.sort(key=rank)
