"""Text for the simulated regulator: charity names, removal reasons, addresses, and OSCR's formats.

Everything here is vectorised over charities: a generator draws small integer codes per charity,
formats each distinct code once in Python, and gathers the strings with Arrow, so a world of
millions of charities never loops per row. Columns are returned as Arrow string arrays, which the
simulator turns into pandas string columns without copying.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from risk_model.domain.vocab import GEOGRAPHICAL_SPREADS, MAIN_OPERATING_LOCATIONS

# --- word lists --------------------------------------------------------------------------------

# A handful of towns, villages or districts in each local authority, keyed as OSCR spells them.
PLACES_BY_LOCATION: dict[str, tuple[str, ...]] = {
    "City of Edinburgh": ("Leith", "Portobello", "Corstorphine", "Morningside", "Gilmerton",
                          "Craigmillar", "Stockbridge", "South Queensferry", "Balerno", "Gorgie"),
    "Glasgow City": ("Govan", "Partick", "Maryhill", "Shettleston", "Easterhouse", "Govanhill",
                     "Drumchapel", "Springburn", "Castlemilk", "Dennistoun", "Pollokshields"),
    "Highland": ("Inverness", "Fort William", "Nairn", "Dingwall", "Thurso", "Wick", "Portree",
                 "Aviemore", "Ullapool", "Kingussie", "Alness", "Lochcarron"),
    "Fife": ("Kirkcaldy", "Dunfermline", "Glenrothes", "St Andrews", "Cupar", "Leven",
             "Anstruther", "Cowdenbeath", "Burntisland", "Tayport"),
    "Aberdeenshire": ("Peterhead", "Fraserburgh", "Inverurie", "Stonehaven", "Ellon", "Banchory",
                      "Huntly", "Turriff", "Portsoy", "Ballater"),
    "Perth & Kinross": ("Perth", "Crieff", "Pitlochry", "Blairgowrie", "Kinross", "Auchterarder",
                        "Aberfeldy", "Comrie", "Dunkeld"),
    "Dumfries & Galloway": ("Dumfries", "Stranraer", "Castle Douglas", "Annan", "Lockerbie",
                            "Kirkcudbright", "Newton Stewart", "Moffat", "Langholm"),
    "Argyll & Bute": ("Oban", "Dunoon", "Helensburgh", "Campbeltown", "Rothesay", "Lochgilphead",
                      "Tobermory", "Inveraray"),
    "Aberdeen": ("Torry", "Dyce", "Bucksburn", "Cults", "Old Aberdeen", "Tillydrone", "Kincorth",
                 "Bridge of Don"),
    "North Lanarkshire": ("Motherwell", "Airdrie", "Coatbridge", "Cumbernauld", "Wishaw",
                          "Bellshill", "Kilsyth", "Shotts"),
    "Scottish Borders": ("Galashiels", "Hawick", "Peebles", "Kelso", "Selkirk", "Jedburgh", "Duns",
                         "Eyemouth", "Melrose"),
    "South Lanarkshire": ("Hamilton", "East Kilbride", "Lanark", "Rutherglen", "Cambuslang",
                          "Carluke", "Larkhall", "Strathaven", "Biggar"),
    "Outwith Scotland": ("London", "Newcastle", "Carlisle", "Manchester", "Belfast", "Leeds",
                         "Berwick-upon-Tweed"),
    "Angus": ("Arbroath", "Forfar", "Montrose", "Brechin", "Carnoustie", "Kirriemuir", "Monifieth"),
    "Dundee City": ("Lochee", "Broughty Ferry", "Stobswell", "Whitfield", "Menzieshill", "Fintry"),
    "Renfrewshire": ("Paisley", "Renfrew", "Johnstone", "Erskine", "Linwood", "Lochwinnoch",
                     "Bridge of Weir"),
    "Midlothian": ("Dalkeith", "Penicuik", "Bonnyrigg", "Loanhead", "Gorebridge", "Newtongrange"),
    "West Lothian": ("Livingston", "Bathgate", "Linlithgow", "Broxburn", "Whitburn", "Armadale",
                     "West Calder"),
    "North Ayrshire": ("Irvine", "Kilwinning", "Saltcoats", "Ardrossan", "Largs", "Dalry", "Beith",
                       "Brodick"),
    "Stirling": ("Stirling", "Bridge of Allan", "Dunblane", "Callander", "Balfron", "Bannockburn",
                 "Aberfoyle"),
    "South Ayrshire": ("Ayr", "Prestwick", "Troon", "Girvan", "Maybole", "Dundonald"),
    "East Ayrshire": ("Kilmarnock", "Cumnock", "Stewarton", "Galston", "Darvel", "Dalmellington"),
    "Moray": ("Elgin", "Forres", "Buckie", "Keith", "Lossiemouth", "Aberlour", "Fochabers"),
    "East Lothian": ("Haddington", "Musselburgh", "North Berwick", "Dunbar", "Tranent",
                     "Prestonpans"),
    "Falkirk": ("Falkirk", "Grangemouth", "Bo'ness", "Larbert", "Denny", "Polmont"),
    "Western Isles": ("Stornoway", "Tarbert", "Benbecula", "Barra", "Lochmaddy", "Ness"),
    "Inverclyde": ("Greenock", "Port Glasgow", "Gourock", "Kilmacolm", "Inverkip"),
    "Shetland Islands": ("Lerwick", "Scalloway", "Brae", "Yell", "Unst", "Whalsay"),
    "East Renfrewshire": ("Giffnock", "Newton Mearns", "Barrhead", "Clarkston", "Busby",
                          "Eaglesham"),
    "West Dunbartonshire": ("Dumbarton", "Clydebank", "Alexandria", "Bonhill", "Balloch"),
    "East Dunbartonshire": ("Bearsden", "Milngavie", "Kirkintilloch", "Bishopbriggs", "Lenzie"),
    "Orkney Islands": ("Kirkwall", "Stromness", "Westray", "Sanday", "Dounby"),
    "Clackmannanshire": ("Alloa", "Alva", "Tillicoultry", "Dollar", "Tullibody", "Menstrie"),
}

# Invented villages (prefix + suffix, e.g. "Kilbrae"), used anywhere in Scotland for local names.
VILLAGE_PREFIXES: tuple[str, ...] = (
    "Kil", "Auchen", "Bal", "Glen", "Inver", "Strath", "Dun", "Craig", "Aber", "Kin", "Drum",
    "Pit", "Ard", "Tor", "Blair", "Car", "Fin", "Gart", "Lar", "Ros",
)
VILLAGE_SUFFIXES: tuple[str, ...] = (
    "more", "brae", "lochy", "allan", "ness", "ford", "ton", "hill", "burn", "side", "gowan",
    "field", "muir", "haven", "lea", "bank", "dale", "shiel", "wick", "mains",
)

# Postcode area of each location (the first letters of "EH1 1AA").
POSTCODE_AREAS: dict[str, str] = {
    "City of Edinburgh": "EH", "Glasgow City": "G", "Highland": "IV", "Fife": "KY",
    "Aberdeenshire": "AB", "Perth & Kinross": "PH", "Dumfries & Galloway": "DG",
    "Argyll & Bute": "PA", "Aberdeen": "AB", "North Lanarkshire": "ML", "Scottish Borders": "TD",
    "South Lanarkshire": "ML", "Outwith Scotland": "NE", "Angus": "DD", "Dundee City": "DD",
    "Renfrewshire": "PA", "Midlothian": "EH", "West Lothian": "EH", "North Ayrshire": "KA",
    "Stirling": "FK", "South Ayrshire": "KA", "East Ayrshire": "KA", "Moray": "IV",
    "East Lothian": "EH", "Falkirk": "FK", "Western Isles": "HS", "Inverclyde": "PA",
    "Shetland Islands": "ZE", "East Renfrewshire": "G", "West Dunbartonshire": "G",
    "East Dunbartonshire": "G", "Orkney Islands": "KW", "Clackmannanshire": "FK",
}

SURNAMES: tuple[str, ...] = (
    "Anderson", "Baird", "Buchanan", "Cameron", "Campbell", "Crawford", "Cunningham", "Douglas",
    "Drummond", "Duncan", "Ferguson", "Fraser", "Gillies", "Gordon", "Graham", "Grant",
    "Hamilton", "Henderson", "Hunter", "Johnston", "Kerr", "Lindsay", "MacDonald", "Mackay",
    "MacKenzie", "Maclean", "MacLeod", "Macpherson", "McGregor", "McIntosh", "Menzies",
    "Morrison", "Munro", "Murray", "Paterson", "Reid", "Ritchie", "Robertson", "Ross", "Scott",
    "Shaw", "Sinclair", "Stewart", "Sutherland", "Thomson", "Urquhart", "Wallace", "Watson",
)
FIRST_NAMES: tuple[str, ...] = (
    "Agnes", "Alexander", "Andrew", "Annie", "Archibald", "Catherine", "David", "Elizabeth",
    "Euphemia", "Helen", "Hugh", "Isabella", "James", "Janet", "Jean", "Jessie", "John",
    "Margaret", "Mary", "Robert", "Thomas", "William",
)
SAINTS: tuple[str, ...] = (
    "Andrew", "Columba", "Ninian", "Margaret", "Mungo", "Bride", "Machar", "Mary", "John",
    "Michael", "Kentigern", "Serf",
)
CAUSES: tuple[str, ...] = (
    "Autism", "Dementia", "Epilepsy", "Stroke", "Sight Loss", "Hearing Loss", "Carers",
    "Bereavement", "Literacy", "Refugee Welcome", "Youth Music", "Traditional Music",
    "Gaelic Arts", "Piping", "Woodland", "Wildlife", "Red Squirrel", "Kidney Patients",
    "Diabetes", "Mental Health", "Veterans", "Canal Heritage", "Railway Heritage", "Hospice",
)
COUNTRIES: tuple[str, ...] = (
    "Malawi", "Zambia", "Kenya", "Uganda", "Nepal", "India", "Ghana", "Romania", "Tanzania",
    "Rwanda", "Gambia", "Sri Lanka",
)
STREETS: tuple[str, ...] = (
    "High Street", "Main Street", "Church Street", "Station Road", "Victoria Road", "Park Avenue",
    "Mill Lane", "George Street", "King Street", "Queen Street", "Bridge Street", "School Road",
)

# Name patterns by kind, with relative weights. A trailing "!" marks a Church of Scotland
# congregation (the only kind that leaves the register by a union of congregations).
NAME_PATTERNS: dict[str, tuple[tuple[str, float], ...]] = {
    "local": (
        ("{place} Community Trust", 6), ("Friends of {place} Primary School", 5),
        ("{place} Playgroup", 4), ("{place} Community Association", 5),
        ("{place} Development Trust", 3), ("{place} Heritage Society", 2),
        ("{place} Gala Day Committee", 2), ("{place} Pipe Band", 2), ("{place} Youth Club", 3),
        ("{place} Men's Shed", 2), ("{place} Food Bank", 2), ("{place} Befriending Service", 2),
        ("{place} Senior Citizens Club", 2), ("{place} Village Hall", 3),
        ("{place} Parent Council", 3), ("{place} Amateur Dramatic Society", 1),
        ("{place} Music Festival", 1), ("{place} Day Centre", 1), ("1st {place} Scout Group", 2),
        ("{place} Mountain Rescue Team", 0.5), ("{place} Out of School Club", 1.5),
        ("{place} Community Garden", 1), ("{place} and District Twinning Association", 0.5),
    ),
    "church": (
        ("{place} Parish Church of Scotland!", 4), ("{place} Church of Scotland!", 2),
        ("St {saint}'s Parish Church, {place}!", 2), ("{place} Free Church of Scotland", 1),
        ("{place} Baptist Church", 1), ("St {saint}'s Episcopal Church, {place}", 1),
    ),
    "family": (
        ("The {first} {surname} Charitable Trust", 3), ("{first} {surname} Memorial Trust", 3),
        ("The {first} {surname} Trust", 3), ("The {surname} Family Trust", 1),
        ("{first} {surname} Bequest", 1), ("{first} {surname} Educational Trust", 1),
    ),
    "cause": (
        ("Scottish {cause} Trust", 1), ("{cause} Scotland", 1), ("{place} {cause} Group", 4),
        ("{cause} Support {place}", 3), ("{place} and District {cause} Association", 2),
        ("{place} {cause} Network", 2), ("{first} {surname} {cause} Fund", 1),
    ),
    "overseas": (
        ("{place} {country} Partnership", 3), ("Scotland {country} Link", 2),
        ("Friends of {country} Schools", 2), ("The {surname} {country} Trust", 1),
        ("{country} Water Project", 1),
    ),
}
NAME_KINDS: tuple[str, ...] = tuple(NAME_PATTERNS)

# Chance of each kind of name, by geographical spread (rows follow GEOGRAPHICAL_SPREADS).
_LOCAL_KINDS = (0.72, 0.16, 0.10, 0.02, 0.0)
_KIND_BY_SPREAD: dict[str, tuple[float, ...]] = {
    "A specific local point, community or neighbourhood": _LOCAL_KINDS,
    "Wider, but within one local authority area": _LOCAL_KINDS,
    "Operations cover all or most of Scotland": (0.15, 0.05, 0.25, 0.55, 0.0),
    "More than one local authority area in Scotland": (0.15, 0.05, 0.25, 0.55, 0.0),
    "UK and overseas": (0.0, 0.0, 0.25, 0.15, 0.60),
    "Scotland and other parts of the UK": (0.0, 0.0, 0.40, 0.60, 0.0),
    "Overseas only": (0.0, 0.0, 0.25, 0.15, 0.60),
    "One or a few bases or facilities serving people who come from a broad area": _LOCAL_KINDS,
}

# A short objective for each charitable purpose, in PURPOSES order; {area} is the charity's place.
OBJECTIVES: tuple[str, ...] = (
    "To prevent or relieve poverty among people living in {area}.",
    "To advance education for the public benefit in {area}.",
    "To advance the Christian faith in {area} and beyond.",
    "To advance health and wellbeing in {area}.",
    "To save lives by providing rescue and first aid services in {area}.",
    "To advance community development and citizenship in {area}.",
    "To advance the arts, heritage and culture of {area}.",
    "To advance public participation in sport in {area}.",
    "To provide recreational facilities for the people of {area}.",
    "To advance human rights and conflict resolution.",
    "To promote religious and racial harmony in {area}.",
    "To promote equality and diversity.",
    "To advance environmental protection and improvement in {area}.",
    "To relieve those in need by reason of age, ill health, disability or financial hardship.",
    "To advance animal welfare.",
    "To carry out such charitable purposes as the trustees may decide.",
)

_SECTION_18_ACT = (
    "This charity requested removal and was removed from the Scottish Charity Register under "
    "Section 18 of the Charities and Trustee Investment (Scotland) Act 2005"
)
_SECTION_18_SHORT = (
    "This charity requested removal and was removed from the Scottish Charity Register under "
    "Section 18 of the 2005 Act"
)
_WOUND_UP = "This charity has been wound up/dissolved"
# Removal reasons as OSCR's staff typed them over the years, with relative weights.
WOUND_UP_SPELLINGS: tuple[tuple[str, float], ...] = (
    (_WOUND_UP + ".", 40), (_WOUND_UP, 16), (_WOUND_UP + ".   ", 13), (_WOUND_UP + ". ", 7),
    (_WOUND_UP + ".  ", 2), ("This charity has been dissolved/wound up", 1),
    ("This charity has wound up/dissolved.", 0.4), ("Reason - " + _WOUND_UP + ".", 0.6),
    ("Reason - " + _WOUND_UP + ".   ", 0.4),
)
SECTION_18_SPELLINGS: tuple[tuple[str, float], ...] = (
    (_SECTION_18_ACT, 3), (_SECTION_18_SHORT + ". ", 5), (_SECTION_18_SHORT + ".", 3),
    (_SECTION_18_SHORT, 0.3),
)
MERGER_REASON = "This charity has now wound up and transferred its assets to "
UNION_OF_CONGREGATIONS = "Union of Congregations of the Church of Scotland."
UNION_INTO = "Union of Congregations of the Church of Scotland \u2013 now part of "
# How charities leave (Church of Scotland congregations may also unite), with probabilities.
REMOVAL_KINDS: dict[str, float] = {
    "wound_up": 0.72, "section_18": 0.09, "merger": 0.07, "blank": 0.12,
}

_SMALL_WORDS = frozenset({"of", "and", "the", "for", "in", "St", "1st"})
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


# --- drawing codes -----------------------------------------------------------------------------

def weighted_choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Indices into weights, drawn with probability proportional to weight."""
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def draw_item_sets(
    rng: np.random.Generator, weights, counts: np.ndarray, chunk: int = 250_000
) -> np.ndarray:
    """Bitmasks of counts[i] distinct items drawn by weight without replacement (Gumbel top-k)."""
    log_w = np.log(np.asarray(weights, dtype=float))
    k = len(log_w)
    masks = np.empty(len(counts), dtype=np.int64)
    bits = np.int64(1) << np.arange(k, dtype=np.int64)
    for start in range(0, len(counts), chunk):  # chunks bound the memory of the n-by-k keys
        n = min(chunk, len(counts) - start)
        keys = log_w - np.log(-np.log(rng.random((n, k))))
        # rank of each item within its row, 0 for the largest key
        ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
        chosen = ranks < counts[start:start + n, None]
        masks[start:start + n] = chosen @ bits
    return masks


# --- Arrow formatting --------------------------------------------------------------------------

# pandas keeps its str columns as Arrow large strings: building them so avoids a copy per column.
TEXT = pa.large_string()


def repeat(value: str, n: int) -> pa.Array:
    """The same string n times."""
    return pa.repeat(pa.scalar(value, TEXT), n)


def gather(values, index: np.ndarray) -> pa.Array:
    """Arrow strings values[index]: distinct strings formatted once, gathered per row."""
    return pa.array(list(values), type=TEXT).take(pa.array(index))


def _text(value):
    return pa.scalar(value, TEXT) if isinstance(value, str) else value


def join(*parts) -> pa.Array:
    """Element-wise concatenation of Arrow string arrays and plain strings."""
    return pc.binary_join_element_wise(*map(_text, parts), _text(""))


def choose(condition: np.ndarray, when_true, when_false) -> pa.Array:
    """Element-wise choice between Arrow strings or plain strings."""
    return pc.if_else(pa.array(condition, type=pa.bool_()), _text(when_true), _text(when_false))


def blank_unless(valid: np.ndarray, values: pa.Array) -> pa.Array:
    """values where valid, the empty string elsewhere (OSCR writes blanks, never nulls)."""
    return choose(valid, values, "")


def format_days(
    days: np.ndarray, valid: np.ndarray | None = None, iso: np.ndarray | None = None
) -> pa.Array:
    """Day numbers as "dd/mm/yyyy" ("yyyy-mm-dd" where iso), blank where not valid."""
    days = np.asarray(days, dtype=np.int64)
    valid = np.ones(len(days), bool) if valid is None else valid
    if not valid.any():
        return repeat("", len(days))
    lo, hi = int(days[valid].min()), int(days[valid].max())
    iso_table = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]")).tolist()
    dmy_table = [f"{s[8:10]}/{s[5:7]}/{s[0:4]}" for s in iso_table]
    index = np.where(valid, days - lo, len(iso_table))
    if iso is not None:
        index = np.where(iso & valid, index + len(iso_table) + 1, index)
    return gather(dmy_table + [""] + iso_table, index)


def format_times(minutes: np.ndarray) -> pa.Array:
    """Minutes after midnight as "HH:MM"."""
    return gather((f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)), minutes)


def format_ints(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Whole numbers as plain digits ("12345"); blank where not valid."""
    digits = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), TEXT)
    return digits if valid is None else blank_unless(valid, digits)


def format_probabilities(p: np.ndarray) -> pa.Array:
    """Probabilities in [0, 1] with six decimals ("0.004512"), never in exponent form."""
    micro = np.rint(np.asarray(p) * 1e6).astype(np.int64)
    fraction = pc.utf8_lpad(pc.cast(pa.array(micro % 1_000_000), TEXT), 6, "0")
    return join(pc.cast(pa.array(micro // 1_000_000), TEXT), ".", fraction)


def format_charity_numbers(numbers: np.ndarray) -> pa.Array:
    """Register numbers as "SC" and six digits (more digits only past SC999999)."""
    return join("SC", pc.utf8_lpad(pc.cast(pa.array(numbers), TEXT), 6, "0"))


def format_item_sets(masks: np.ndarray, items, valid: np.ndarray | None = None) -> pa.Array:
    """Bitmasks as OSCR's multi-valued cells: "'item one','item two'" in vocabulary order."""
    items = list(items)
    distinct, index = np.unique(masks, return_inverse=True)
    cells = [
        ",".join(f"'{item}'" for j, item in enumerate(items) if mask >> j & 1)
        for mask in distinct.tolist()
    ]
    values = gather(cells, index)
    return values if valid is None else blank_unless(valid, values)


# --- names and other text ----------------------------------------------------------------------

class CharityWords(NamedTuple):
    """Generated names and the codes other text depends on."""

    name: pa.Array
    known_as: pa.Array
    website: pa.Array
    place: np.ndarray                   # index into PLACES
    place_named: np.ndarray             # the place appears in the name
    church: np.ndarray                  # any congregation (religion among its purposes)
    church_of_scotland: np.ndarray      # may leave by a union of congregations


_TOWNS: tuple[str, ...] = tuple(
    place for location in MAIN_OPERATING_LOCATIONS for place in PLACES_BY_LOCATION[location]
)
PLACES: tuple[str, ...] = _TOWNS + tuple(a + b for a in VILLAGE_PREFIXES for b in VILLAGE_SUFFIXES)
_TOWN_COUNTS = np.array([len(PLACES_BY_LOCATION[loc]) for loc in MAIN_OPERATING_LOCATIONS])
_TOWN_OFFSETS = np.concatenate([[0], np.cumsum(_TOWN_COUNTS)[:-1]])
_PATTERNS: tuple[str, ...] = tuple(p for kind in NAME_KINDS for p, _ in NAME_PATTERNS[kind])
_FIELDS = (
    ("place", PLACES), ("saint", SAINTS), ("surname", SURNAMES), ("first", FIRST_NAMES),
    ("cause", CAUSES), ("country", COUNTRIES),
)
NAME_SUFFIXES: tuple[str, ...] = ("", " SCIO", " Limited")


def draw_places(rng: np.random.Generator, location: np.ndarray) -> np.ndarray:
    """A place (index into PLACES): a town of the charity's location, or a Scottish village."""
    n = len(location)
    town = _TOWN_OFFSETS[location] + (rng.random(n) * _TOWN_COUNTS[location]).astype(np.int64)
    village = rng.integers(len(_TOWNS), len(PLACES), n)
    outwith = location == list(MAIN_OPERATING_LOCATIONS).index("Outwith Scotland")
    return np.where(~outwith & (rng.random(n) < 0.5), village, town)


def charity_names(
    rng: np.random.Generator, spread: np.ndarray, location: np.ndarray, suffix: np.ndarray
) -> CharityWords:
    """Plausible Scottish charity names from word lists, with acronyms and web addresses.

    suffix indexes NAME_SUFFIXES (some SCIOs and companies say what they are in their name;
    congregations never do).
    """
    n = len(spread)
    kind_p = np.array([_KIND_BY_SPREAD[s] for s in GEOGRAPHICAL_SPREADS])
    cumulative = np.cumsum(kind_p / kind_p.sum(axis=1, keepdims=True), axis=1)[spread]
    kind = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, len(NAME_KINDS) - 1)
    pattern = np.empty(n, dtype=np.int64)
    offset = 0
    for k, name_kind in enumerate(NAME_KINDS):
        weights = [w for _, w in NAME_PATTERNS[name_kind]]
        rows = np.flatnonzero(kind == k)
        pattern[rows] = offset + weighted_choice(rng, weights, len(rows))
        offset += len(weights)
    place = draw_places(rng, location)
    church = kind == NAME_KINDS.index("church")
    # one mixed-radix code per distinct name; fields a pattern does not use are zeroed
    code = pattern.copy()
    for field, words in _FIELDS:
        uses = np.array([("{" + field + "}") in p for p in _PATTERNS])[pattern]
        value = place if field == "place" else rng.integers(0, len(words), n)
        code = code * len(words) + np.where(uses, value, 0)
    code = code * len(NAME_SUFFIXES) + np.where(church, 0, suffix)
    distinct, index = np.unique(code, return_inverse=True)
    names, acronyms, sites = [], [], []
    for c in distinct.tolist():  # each distinct name once, however many charities share it
        ending, c = NAME_SUFFIXES[c % len(NAME_SUFFIXES)], c // len(NAME_SUFFIXES)
        values = {}
        for field, words in reversed(_FIELDS):
            values[field] = words[c % len(words)]
            c //= len(words)
        name = _PATTERNS[c].rstrip("!").format(**values) + ending
        names.append(name)
        initials = (w[0] for w in name.split() if w not in _SMALL_WORDS and w[0].isalpha())
        acronyms.append("".join(initials).upper())
        sites.append("www." + re.sub(r"[^a-z0-9]", "", name.lower()) + ".org.uk")
    uses_place = np.array(["{place}" in p for p in _PATTERNS])
    church_of_scotland = np.array([p.endswith("!") for p in _PATTERNS])
    return CharityWords(
        name=gather(names, index),
        known_as=blank_unless(rng.random(n) < 0.06, gather(acronyms, index)),
        website=blank_unless(rng.random(n) < 0.35, gather(sites, index)),
        place=place,
        place_named=uses_place[pattern],
        church=church,
        church_of_scotland=church_of_scotland[pattern],
    )


def objectives(first_purpose: np.ndarray, place: np.ndarray, place_named: np.ndarray) -> pa.Array:
    """A one-sentence objective from the first purpose, about the charity's place or Scotland."""
    areas = PLACES + ("Scotland",)
    area = np.where(place_named, place, len(PLACES))
    distinct, index = np.unique(first_purpose * len(areas) + area, return_inverse=True)
    sentences = [
        OBJECTIVES[c // len(areas)].format(area=areas[c % len(areas)]) for c in distinct.tolist()
    ]
    return gather(sentences, index)


def postcodes(rng: np.random.Generator, location: np.ndarray) -> pa.Array:
    """Postcodes shaped like "EH1 1AA" in the area of each charity's location."""
    n = len(location)
    areas = [POSTCODE_AREAS[loc] for loc in MAIN_OPERATING_LOCATIONS]
    letters = _UNIT_LETTERS[rng.integers(0, len(_UNIT_LETTERS), (n, 2))]
    district, sector = format_ints(rng.integers(1, 40, n)), format_ints(rng.integers(1, 10, n))
    unit = [pa.array(letters[:, j], TEXT) for j in range(2)]
    return join(gather(areas, location), district, " ", sector, *unit)


def addresses(rng: np.random.Generator, place: np.ndarray) -> pa.Array:
    """Principal office addresses like "12 High Street, Kirkcaldy"."""
    n = len(place)
    street = gather(STREETS, rng.integers(0, len(STREETS), n))
    return join(format_ints(rng.integers(1, 120, n)), " ", street, ", ", gather(PLACES, place))


def removal_reasons(
    rng: np.random.Generator,
    church_of_scotland: np.ndarray,
    merger_name: pa.Array,
    merger_number: pa.Array,
    union_name: pa.Array,
    union_number: pa.Array,
) -> pa.Array:
    """OSCR-style "Reason For Removal" text for each charity, in OSCR's mixed spellings."""
    n = len(church_of_scotland)
    kinds = list(REMOVAL_KINDS)
    kind = weighted_choice(rng, list(REMOVAL_KINDS.values()), n)

    def spelling(spellings: tuple[tuple[str, float], ...]) -> pa.Array:
        return gather([s for s, _ in spellings], weighted_choice(rng, [w for _, w in spellings], n))

    reason = repeat("", n)
    reason = choose(kind == kinds.index("wound_up"), spelling(WOUND_UP_SPELLINGS), reason)
    reason = choose(kind == kinds.index("section_18"), spelling(SECTION_18_SPELLINGS), reason)
    merger = join(MERGER_REASON, merger_name, " (", merger_number, ")")
    reason = choose(kind == kinds.index("merger"), merger, reason)
    union = join(UNION_INTO, union_name, " (", union_number, ").")
    union = choose(rng.random(n) < 0.5, union, UNION_OF_CONGREGATIONS)
    return choose(church_of_scotland & (rng.random(n) < 0.6), union, reason)
