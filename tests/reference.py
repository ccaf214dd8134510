"""Published reference values, each with its source. Tests compare against these and nothing else."""

# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
# Pareto/NBD Model", Marketing Science 24(2), section 5: BG/NBD on the CDNOW sample
# (2,357 customers, weeks 1-39 calibration), time unit weeks.
BGNBD_CDNOW = {"r": 0.2426, "alpha": 4.4137, "a": 0.7930, "b": 2.4262}
BGNBD_CDNOW_LL = -9582.4

# Same paper, Figure 4 / the accompanying spreadsheet (brucehardie.com/notes/004): mean purchases
# in weeks 40-78 by number of repeat purchases in weeks 1-39 (0, 1, ..., 6, 7+).
HOLDOUT_BY_FREQUENCY_EXPECTED = [0.225, 0.523, 1.044, 1.520, 2.164, 2.654, 3.504, 6.157]
HOLDOUT_BY_FREQUENCY_ACTUAL = [0.237, 0.697, 1.393, 1.560, 2.532, 2.947, 3.862, 6.359]

# Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (brucehardie.com/notes/025):
# the 946 CDNOW-sample customers with at least one repeat purchase in weeks 1-39.
GAMMA_GAMMA_CDNOW = {"p": 6.25, "q": 3.74, "v": 15.44}
GAMMA_GAMMA_CDNOW_CUSTOMERS = 946

# The paper's customer summary (lifetimes ships it as cdnow_customers_summary.csv): customer 1.
CDNOW_CUSTOMER_1 = {"frequency": 2, "recency": 30.43, "T": 38.86}
CDNOW_SAMPLE_SHAPE = (6919, 2357)  # transactions, customers
CDNOW_MASTER_SHAPE = (69659, 23570)

# Fader & Hardie (2007), "How to Project Customer Retention", Journal of Interactive Marketing
# 21(1), table 1 and section 4: customers of a cohort of 1,000 still active after 0-7 years, and
# the sBG estimates.
SBG_REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
SBG_REGULAR_PARAMS = {"alpha": 0.704, "beta": 1.182}
SBG_HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
SBG_HIGH_END_PARAMS = {"alpha": 0.668, "beta": 3.806}
# The high-end cohort's projected survival in years 8-12 and the discounted expected residual
# lifetime of its year-7 survivors at a 10 % discount rate (Fader & Hardie 2010's DERL), as the
# README of J. D. Maturen's reference implementation (github.com/jdmaturen/shifted_beta_geometric_py)
# reports them for these data.
SBG_HIGH_END_SURVIVAL_8_12 = [0.460, 0.436, 0.414, 0.395, 0.378]
SBG_HIGH_END_DERL_YEAR_7 = 7.530

# Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
# Journal of Marketing Research 42(4), section "Model estimation": Pareto/NBD on the CDNOW sample,
# weeks 1-39 (the same values in Fader & Hardie's note on implementing the Pareto/NBD in Excel).
PNBD_CDNOW = {"r": 0.5534, "alpha": 10.5776, "s": 0.6061, "beta": 11.6689}
PNBD_CDNOW_LL = -9594.98

# Fader, Hardie & Shang (2010), "Customer-Base Analysis in a Discrete-Time Noncontractual
# Setting", Marketing Science 29(6), section 4: BG/BB on the donations data (11,104 donors of
# the 1995 cohort, six annual opportunities 1996-2001; lifetimes ships it as donations.csv).
BGBB_DONATIONS = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
BGBB_DONATIONS_LL = -33225.6
BGBB_DONATIONS_DONORS = 11104
