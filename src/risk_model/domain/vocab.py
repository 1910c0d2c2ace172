"""OSCR's register vocabularies, with their observed frequencies.

Frequencies are counts of non-blank values in OSCR's former-charities register download of
6 July 2020 (25,257 rows, Open Government Licence v3). The simulator draws from them, and
features one-hot encode against them, so an unseen value in a real file is kept but flagged.
"""

from __future__ import annotations

CONSTITUTIONAL_FORMS: dict[str, int] = {
    "Unincorporated association": 6084,
    "Trust (founding document is a deed of trust) (other than educational endowment)": 2042,
    "Company (the charity is registered with Companies House)": 1876,
    "Other": 613,
    "SCIO (Scottish Charitable Incorporated Organisation)": 267,
    "Educational endowment": 106,
    "Registered Society": 67,
    "Statutory corporation (Royal Charter etc)": 47,
    "CIO (Charitable Incorporated Organisation, E&W)": 6,
    "Community Benefit Society": 1,
}

GEOGRAPHICAL_SPREADS: dict[str, int] = {
    "A specific local point, community or neighbourhood": 4667,
    "Wider, but within one local authority area": 2364,
    "Operations cover all or most of Scotland": 1270,
    "More than one local authority area in Scotland": 977,
    "UK and overseas": 922,
    "Scotland and other parts of the UK": 626,
    "Overseas only": 225,
    "One or a few bases or facilities serving people who come from a broad area": 56,
}

# The 32 Scottish local authorities as OSCR spells them ("Perth & Kinross", "Western Isles"), plus
# "Outwith Scotland".
MAIN_OPERATING_LOCATIONS: dict[str, int] = {
    "City of Edinburgh": 2022,
    "Glasgow City": 1242,
    "Highland": 839,
    "Fife": 605,
    "Aberdeenshire": 497,
    "Perth & Kinross": 425,
    "Dumfries & Galloway": 410,
    "Argyll & Bute": 368,
    "Aberdeen": 366,
    "North Lanarkshire": 327,
    "Scottish Borders": 319,
    "South Lanarkshire": 296,
    "Outwith Scotland": 292,
    "Angus": 276,
    "Dundee City": 275,
    "Renfrewshire": 209,
    "Midlothian": 196,
    "West Lothian": 193,
    "North Ayrshire": 192,
    "Stirling": 191,
    "South Ayrshire": 179,
    "East Ayrshire": 176,
    "Moray": 166,
    "East Lothian": 144,
    "Falkirk": 132,
    "Western Isles": 114,
    "Inverclyde": 112,
    "Shetland Islands": 102,
    "East Renfrewshire": 100,
    "West Dunbartonshire": 97,
    "East Dunbartonshire": 94,
    "Orkney Islands": 88,
    "Clackmannanshire": 71,
}

LOCAL_AUTHORITIES: tuple[str, ...] = tuple(k for k in MAIN_OPERATING_LOCATIONS if k != "Outwith Scotland")

# Other names of the areas above, each read as OSCR's spelling: the council's official English name
# where OSCR shortens it, the Gaelic name, and common short forms. Case, spacing, accents, "&" for
# "and", a leading "The" and a trailing "Council" are ignored when matching (`ingest.vocabulary`),
# so "Perth and Kinross" and "The Highland Council" need no entry here.
AREA_ALIASES: dict[str, tuple[str, ...]] = {
    "City of Edinburgh": ("Edinburgh", "Edinburgh City", "Edinburgh, City of", "Dùn Èideann"),
    "Glasgow City": ("Glasgow", "City of Glasgow", "Glaschu"),
    "Aberdeen": ("Aberdeen City", "City of Aberdeen", "Obar Dheathain"),
    "Dundee City": ("Dundee", "City of Dundee", "Dùn Dè"),
    "Highland": ("Highlands", "A' Ghàidhealtachd", "Gàidhealtachd"),
    "Argyll & Bute": ("Earra-Ghàidheal agus Bòd",),
    "Scottish Borders": ("Borders",),
    "Western Isles": ("Na h-Eileanan Siar", "Eilean Siar", "Comhairle nan Eilean Siar", "Na h-Eileanan an Iar",
                      "Outer Hebrides"),
    "Orkney Islands": ("Orkney", "Arcaibh"),
    "Shetland Islands": ("Shetland", "Sealtainn"),
    "Fife": ("Fìobha",),
    "Stirling": ("Sruighlea",),
    "Moray": ("Moireibh",),
    "Angus": ("Aonghas",),
    "Outwith Scotland": ("Outside Scotland",),
}

# The 16 charitable purposes of the Charities and Trustee Investment (Scotland) Act 2005, s.7.
PURPOSES: dict[str, int] = {
    "The prevention or relief of poverty": 2322,
    "The advancement of education": 5800,
    "The advancement of religion": 1666,
    "The advancement of health": 2259,
    "The saving of lives": 207,
    "The advancement of citizenship or community development": 3041,
    "The advancement of the arts, heritage, culture or science": 2825,
    "The advancement of public participation in sport": 889,
    "The provision of recreational facilities, or the organisation of recreational activities, "
    "with the object of improving the conditions of life for the persons for whom the facilities "
    "or activities are primarily intended": 1091,
    "The advancement of human rights, conflict resolution or reconciliation": 525,
    "The promotion of religious or racial harmony": 220,
    "The promotion of equality and diversity": 415,
    "The advancement of environmental protection or improvement": 975,
    "The relief of those in need by reason of age, ill health, disability, financial hardship "
    "or other disadvantage": 2722,
    "The advancement of animal welfare": 279,
    "Any other purpose that may reasonably be regarded as analogous to any of the preceding purposes": 1484,
}

# Number of purposes a charity lists (1..16), from the same file.
PURPOSE_COUNTS: dict[int, int] = {
    1: 4069, 2: 3408, 3: 1495, 4: 886, 5: 426, 6: 247, 7: 190, 8: 100,
    9: 60, 10: 25, 11: 32, 12: 40, 13: 8, 14: 12, 15: 6, 16: 5,
}

BENEFICIARIES: dict[str, int] = {
    "Children / young people": 4794,
    "No specific group, or for the benefit of the community": 4432,
    "People with disabilities or health problems": 2562,
    "Other defined groups": 2534,
    "Older people": 2355,
    "Other charities / voluntary bodies": 1408,
    "People of a particular ethnic or racial origin": 581,
}

ACTIVITIES: dict[str, int] = {
    "It carries out activities or services itself": 8251,
    "It makes grants, donations or gifts to organisations": 2727,
    "It makes grants, donations, loans, gifts or pensions to individuals": 2280,
    "It does none of these": 547,
}

REGULATORY_TYPES: dict[str, int] = {
    "Standard": 24992,
    "Cross Border": 203,
    "Registered Social Landlord": 62,
}

# Short, stable names used for feature columns and in reason text.
PURPOSE_SHORT: dict[str, str] = {
    "The prevention or relief of poverty": "poverty",
    "The advancement of education": "education",
    "The advancement of religion": "religion",
    "The advancement of health": "health",
    "The saving of lives": "saving_lives",
    "The advancement of citizenship or community development": "citizenship_community",
    "The advancement of the arts, heritage, culture or science": "arts_heritage_science",
    "The advancement of public participation in sport": "sport",
    next(k for k in PURPOSES if k.startswith("The provision of recreational")): "recreation",
    "The advancement of human rights, conflict resolution or reconciliation": "human_rights",
    "The promotion of religious or racial harmony": "religious_racial_harmony",
    "The promotion of equality and diversity": "equality_diversity",
    "The advancement of environmental protection or improvement": "environment",
    next(k for k in PURPOSES if k.startswith("The relief of those in need")): "relief_of_need",
    "The advancement of animal welfare": "animal_welfare",
    next(k for k in PURPOSES if k.startswith("Any other purpose")): "other_analogous",
}

BENEFICIARY_SHORT: dict[str, str] = {
    "Children / young people": "children_young_people",
    "No specific group, or for the benefit of the community": "community",
    "People with disabilities or health problems": "disability_health",
    "Other defined groups": "other_groups",
    "Older people": "older_people",
    "Other charities / voluntary bodies": "other_charities",
    "People of a particular ethnic or racial origin": "ethnic_racial_origin",
}

ACTIVITY_SHORT: dict[str, str] = {
    "It carries out activities or services itself": "delivers_services",
    "It makes grants, donations or gifts to organisations": "grants_to_organisations",
    "It makes grants, donations, loans, gifts or pensions to individuals": "grants_to_individuals",
    "It does none of these": "none_of_these",
}

# Case-log vocabulary. Outcomes are extendable: an unknown outcome is kept, not rejected.
CASE_EVENTS: tuple[str, ...] = ("concern_received", "inquiry_opened", "inquiry_closed")
CASE_OUTCOMES: tuple[str, ...] = ("no_action", "guidance_issued", "regulatory_action")

# Normalised categories for OSCR's free-text "Reason For Removal".
REMOVAL_CATEGORIES: tuple[str, ...] = (
    "wound_up_dissolved",
    "requested_removal_s18",
    "merger_amalgamation_union",
    "scio_conversion_reregistration",
    "other",
    "not_recorded",
)

# Income bands used for filters and reports (OSCR's own reporting thresholds, in GBP).
INCOME_BANDS_GBP: tuple[tuple[str, float, float], ...] = (
    ("up to 25k", 0.0, 25_000.0),
    ("25k-100k", 25_000.0, 100_000.0),
    ("100k-250k", 100_000.0, 250_000.0),
    ("250k-1m", 250_000.0, 1_000_000.0),
    ("1m-5m", 1_000_000.0, 5_000_000.0),
    ("over 5m", 5_000_000.0, float("inf")),
)
