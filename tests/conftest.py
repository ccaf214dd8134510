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
