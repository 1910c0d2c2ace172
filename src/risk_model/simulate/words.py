"""Word lists for the simulated regulator: places, personal names, causes, streets, name patterns,
objectives, and the removal reasons in the spellings OSCR's staff used.

Data only: nothing here draws a random number or builds a column; ``simulate.text`` makes the
charities' text from these words.
"""

from __future__ import annotations

from risk_model.domain.vocab import MAIN_OPERATING_LOCATIONS

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
# Every place a charity can be named after: the towns of each location (in MAIN_OPERATING_LOCATIONS
# order), then every invented village.
TOWNS: tuple[str, ...] = tuple(
    place for location in MAIN_OPERATING_LOCATIONS for place in PLACES_BY_LOCATION[location]
)
PLACES: tuple[str, ...] = TOWNS + tuple(a + b for a in VILLAGE_PREFIXES for b in VILLAGE_SUFFIXES)

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
# What some SCIOs and companies add to their name (congregations never do).
NAME_SUFFIXES: tuple[str, ...] = ("", " SCIO", " Limited")

# Chance of each kind of name, by geographical spread (rows follow GEOGRAPHICAL_SPREADS).
_LOCAL_KINDS = (0.72, 0.16, 0.10, 0.02, 0.0)
KIND_BY_SPREAD: dict[str, tuple[float, ...]] = {
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
