"""The Charity Commission for Northern Ireland's register vocabularies, with short feature names.

Items as they appear in CCNI's register export of 30 June 2020 ("What the charity does", "Who the
charity helps", "How the charity works"). Features one-hot encode against these lists; an item
outside them is kept in the charity's list and counted, but has no column of its own.
"""

from __future__ import annotations

import re

# "What the charity does": the charitable purposes of the Charities Act (Northern Ireland) 2008, s.2.
PURPOSES: dict[str, str] = {
    "The prevention or relief of poverty": "poverty",
    "The advancement of education": "education",
    "The advancement of religion": "religion",
    "The advancement of health or the saving of lives": "health_saving_lives",
    "The advancement of citizenship or community development": "citizenship_community",
    "The advancement of the arts, culture, heritage or science": "arts_culture_heritage_science",
    "The advancement of amateur sport": "amateur_sport",
    "The advancement of human rights, conflict resolution or reconciliation or the promotion of "
    "religious or racial harmony or equality and diversity": "human_rights_harmony_equality",
    "The advancement of environmental protection or improvement": "environment",
    "The relief of those in need by reason of youth, age, ill-health, disability, financial hardship "
    "or other disadvantage": "relief_of_need",
    "The advancement of animal welfare": "animal_welfare",
    "Other charitable purposes": "other_purposes",
}

# "Who the charity helps".
BENEFICIARIES: tuple[str, ...] = (
    "General public", "Children (5-13 year olds)", "Youth (14-25 year olds)", "Volunteers", "Women",
    "Older people", "Voluntary and community sector", "Parents", "Preschool (0-5 year olds)",
    "Adult training", "Men", "Unemployed/low income", "Mental health", "Physical disabilities",
    "Learning disabilities", "Specific areas of deprivation", "Ethnic minorities", "Carers",
    "Community safety/crime prevention", "Interface communities",
    "Addictions (drug/solvent/alcohol abuse)", "Overseas/developing countries", "Sensory disabilities",
    "Homelessness", "Ex-offenders and prisoners", "Tenants", "Victim support", "Language community",
    "Travellers", "Asylum seekers/refugees", "Sexual orientation", "Hiv/aids",
)

# "How the charity works".
ACTIVITIES: tuple[str, ...] = (
    "Education/training", "Community development", "Youth development", "Volunteer development",
    "Religious activities", "Sport/recreation", "Advice/advocacy/information", "Cross-border/cross-community",
    "Cultural", "Relief of poverty", "General charitable purposes", "Gender", "Counselling/support", "Arts",
    "Disability", "Playgroup/after schools", "Medical/health/sickness", "Heritage/historical", "Grant making",
    "Human rights/equality", "Rural development", "Environment/sustainable development/conservation",
    "Research/evaluation", "Welfare/benevolent", "Community enterprise", "Accommodation/housing",
    "Economic development", "Overseas aid/famine relief", "Urban development", "Community transport",
    "Animal welfare", "Criminal justice", "Search and rescue",
)


def short_name(item: str) -> str:
    """A feature-name fragment for a vocabulary item: 'Hiv/aids' -> 'hiv_aids'."""
    return re.sub(r"[^0-9a-z]+", "_", item.lower()).strip("_")


# list column -> (feature prefix, {item: short name})
LISTS: dict[str, tuple[str, dict[str, str]]] = {
    "purposes": ("does__", PURPOSES),
    "beneficiaries": ("helps__", {item: short_name(item) for item in BENEFICIARIES}),
    "activities": ("works__", {item: short_name(item) for item in ACTIVITIES}),
}
