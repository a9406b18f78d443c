"""Who maintains and who reports: agencies (SDMX:AGENCIES) and data providers (DSM:DATA_PROVIDERS).

A provider id is `<ISO3>_<ROLE>`; the ISO3 prefix is the provider's country and becomes the
REF_AREA of the scope constraint on each of its provision agreements. Only institutions that
exist under that name are listed; where a country has no separate body for a role (or the body
is uncertain), the role is left out rather than invented.
"""

# fmt: off
# The tables below are aligned by hand, one entry per line or two; ruff format leaves them.
AGENCIES = [
    ("DSM", "DSM, Data Sharing Mechanism for migration statistics in Eastern Europe and Central Asia",
     "DSM, механизм обмена данными статистики миграции Восточной Европы и Центральной Азии"),
    ("ESTAT", "Eurostat, the statistical office of the European Union",
     "Евростат, статистическая служба Европейского союза"),
    ("ILO", "International Labour Organization", "Международная организация труда"),
    ("UNECE", "United Nations Economic Commission for Europe",
     "Европейская экономическая комиссия ООН"),
]

# Provision agreements by role: which dataflows a provider of that role may report.
ROLE_DATAFLOWS = {
    "STAT": ["FOREIGN_POP", "FOREIGN_ENTRY", "FOREIGN_EXIT"],
    "MIG": ["FOREIGN_POP", "WORK_PERMITS", "ASYLUM_APP", "ASYLUM_DEC"],
    "BORDER": ["FOREIGN_ENTRY", "FOREIGN_EXIT"],
    "LABOUR": ["WORK_PERMITS", "LABOUR_EMIG"],
    "MFA": ["CITIZENS_ABROAD"],
    "INTERIOR": ["FOREIGN_POP"],
}

# (provider id, English name, Russian name, dataflows when they differ from the role's)
PROVIDERS = [
    # Armenia
    ("ARM_STAT", "Statistical Committee of the Republic of Armenia (Armstat)",
     "Статистический комитет Республики Армения (Армстат)", None),
    ("ARM_MIG", "Migration and Citizenship Service of the Ministry of Internal Affairs of the Republic of Armenia",
     "Служба миграции и гражданства Министерства внутренних дел Республики Армения", None),
    ("ARM_BORDER", "Border Guard Troops of the National Security Service of the Republic of Armenia",
     "Пограничные войска Службы национальной безопасности Республики Армения", None),
    ("ARM_LABOUR", "Ministry of Labour and Social Affairs of the Republic of Armenia",
     "Министерство труда и социальных вопросов Республики Армения", ["LABOUR_EMIG"]),
    ("ARM_MFA", "Ministry of Foreign Affairs of the Republic of Armenia",
     "Министерство иностранных дел Республики Армения", None),
    # Azerbaijan
    ("AZE_STAT", "State Statistical Committee of the Republic of Azerbaijan",
     "Государственный комитет по статистике Азербайджанской Республики", None),
    ("AZE_MIG", "State Migration Service of the Republic of Azerbaijan",
     "Государственная миграционная служба Азербайджанской Республики", None),
    ("AZE_BORDER", "State Border Service of the Republic of Azerbaijan",
     "Государственная пограничная служба Азербайджанской Республики", None),
    ("AZE_LABOUR", "Ministry of Labour and Social Protection of Population of the Republic of Azerbaijan",
     "Министерство труда и социальной защиты населения Азербайджанской Республики", ["LABOUR_EMIG"]),
    ("AZE_MFA", "Ministry of Foreign Affairs of the Republic of Azerbaijan",
     "Министерство иностранных дел Азербайджанской Республики", None),
    # Belarus
    ("BLR_STAT", "National Statistical Committee of the Republic of Belarus (Belstat)",
     "Национальный статистический комитет Республики Беларусь (Белстат)", None),
    ("BLR_MIG", "Department of Citizenship and Migration of the Ministry of Internal Affairs of the Republic of Belarus",
     "Департамент по гражданству и миграции Министерства внутренних дел Республики Беларусь", None),
    ("BLR_BORDER", "State Border Committee of the Republic of Belarus",
     "Государственный пограничный комитет Республики Беларусь", None),
    ("BLR_LABOUR", "Ministry of Labour and Social Protection of the Republic of Belarus",
     "Министерство труда и социальной защиты Республики Беларусь", ["LABOUR_EMIG"]),
    ("BLR_MFA", "Ministry of Foreign Affairs of the Republic of Belarus",
     "Министерство иностранных дел Республики Беларусь", None),
    # Georgia
    ("GEO_STAT", "National Statistics Office of Georgia (Geostat)",
     "Национальная служба статистики Грузии (Геостат)", None),
    ("GEO_MIG", "Migration Department of the Ministry of Internal Affairs of Georgia",
     "Департамент миграции Министерства внутренних дел Грузии",
     ["FOREIGN_POP", "ASYLUM_APP", "ASYLUM_DEC"]),
    ("GEO_BORDER", "Border Police of Georgia", "Пограничная полиция Грузии", None),
    ("GEO_LABOUR", "Ministry of Internally Displaced Persons from the Occupied Territories, Labour, Health and Social Affairs of Georgia",
     "Министерство по делам внутренне перемещённых лиц с оккупированных территорий, труда, здравоохранения и социальной защиты Грузии",
     None),
    ("GEO_MFA", "Ministry of Foreign Affairs of Georgia", "Министерство иностранных дел Грузии", None),
    # Kazakhstan
    ("KAZ_STAT", "Bureau of National Statistics of the Agency for Strategic Planning and Reforms of the Republic of Kazakhstan",
     "Бюро национальной статистики Агентства по стратегическому планированию и реформам Республики Казахстан",
     None),
    ("KAZ_MIG", "Migration Committee of the Ministry of Labour and Social Protection of the Population of the Republic of Kazakhstan",
     "Комитет по миграции Министерства труда и социальной защиты населения Республики Казахстан",
     ["WORK_PERMITS", "ASYLUM_APP", "ASYLUM_DEC", "LABOUR_EMIG"]),
    ("KAZ_BORDER", "Border Service of the National Security Committee of the Republic of Kazakhstan",
     "Пограничная служба Комитета национальной безопасности Республики Казахстан", None),
    ("KAZ_LABOUR", "Ministry of Labour and Social Protection of the Population of the Republic of Kazakhstan",
     "Министерство труда и социальной защиты населения Республики Казахстан", None),
    ("KAZ_INTERIOR", "Migration Service Committee of the Ministry of Internal Affairs of the Republic of Kazakhstan",
     "Комитет миграционной службы Министерства внутренних дел Республики Казахстан", None),
    ("KAZ_MFA", "Ministry of Foreign Affairs of the Republic of Kazakhstan",
     "Министерство иностранных дел Республики Казахстан", None),
    # Kyrgyzstan: migration policy sits with the labour ministry
    ("KGZ_STAT", "National Statistical Committee of the Kyrgyz Republic",
     "Национальный статистический комитет Кыргызской Республики", None),
    ("KGZ_BORDER", "Border Service of the State Committee for National Security of the Kyrgyz Republic",
     "Пограничная служба Государственного комитета национальной безопасности Кыргызской Республики", None),
    ("KGZ_LABOUR", "Ministry of Labour, Social Security and Migration of the Kyrgyz Republic",
     "Министерство труда, социального обеспечения и миграции Кыргызской Республики",
     ["WORK_PERMITS", "LABOUR_EMIG", "ASYLUM_APP", "ASYLUM_DEC"]),
    ("KGZ_MFA", "Ministry of Foreign Affairs of the Kyrgyz Republic",
     "Министерство иностранных дел Кыргызской Республики", None),
    # Moldova
    ("MDA_STAT", "National Bureau of Statistics of the Republic of Moldova",
     "Национальное бюро статистики Республики Молдова", None),
    ("MDA_MIG", "General Inspectorate for Migration of the Ministry of Internal Affairs of the Republic of Moldova",
     "Генеральный инспекторат по миграции Министерства внутренних дел Республики Молдова", None),
    ("MDA_BORDER", "General Inspectorate of Border Police of the Ministry of Internal Affairs of the Republic of Moldova",
     "Генеральный инспекторат пограничной полиции Министерства внутренних дел Республики Молдова", None),
    ("MDA_LABOUR", "Ministry of Labour and Social Protection of the Republic of Moldova",
     "Министерство труда и социальной защиты Республики Молдова", ["LABOUR_EMIG"]),
    ("MDA_MFA", "Ministry of Foreign Affairs of the Republic of Moldova",
     "Министерство иностранных дел Республики Молдова", None),
    # Russian Federation
    ("RUS_STAT", "Federal State Statistics Service (Rosstat)",
     "Федеральная служба государственной статистики (Росстат)", None),
    ("RUS_MIG", "Main Directorate for Migration Affairs of the Ministry of Internal Affairs of the Russian Federation",
     "Главное управление по вопросам миграции Министерства внутренних дел Российской Федерации", None),
    ("RUS_BORDER", "Border Service of the Federal Security Service of the Russian Federation",
     "Пограничная служба Федеральной службы безопасности Российской Федерации", None),
    ("RUS_LABOUR", "Ministry of Labour and Social Protection of the Russian Federation",
     "Министерство труда и социальной защиты Российской Федерации", None),
    ("RUS_MFA", "Ministry of Foreign Affairs of the Russian Federation",
     "Министерство иностранных дел Российской Федерации", None),
    # Tajikistan
    ("TJK_STAT", "Agency on Statistics under the President of the Republic of Tajikistan",
     "Агентство по статистике при Президенте Республики Таджикистан", None),
    ("TJK_MIG", "Migration Service of the Ministry of Labour, Migration and Employment of Population of the Republic of Tajikistan",
     "Миграционная служба Министерства труда, миграции и занятости населения Республики Таджикистан",
     ["WORK_PERMITS", "LABOUR_EMIG"]),
    ("TJK_BORDER", "Border Troops of the State Committee for National Security of the Republic of Tajikistan",
     "Пограничные войска Государственного комитета национальной безопасности Республики Таджикистан", None),
    ("TJK_LABOUR", "Ministry of Labour, Migration and Employment of Population of the Republic of Tajikistan",
     "Министерство труда, миграции и занятости населения Республики Таджикистан", ["LABOUR_EMIG"]),
    ("TJK_INTERIOR", "Ministry of Internal Affairs of the Republic of Tajikistan",
     "Министерство внутренних дел Республики Таджикистан",
     ["FOREIGN_POP", "ASYLUM_APP", "ASYLUM_DEC"]),
    ("TJK_MFA", "Ministry of Foreign Affairs of the Republic of Tajikistan",
     "Министерство иностранных дел Республики Таджикистан", None),
    # Turkmenistan
    ("TKM_STAT", "State Committee of Turkmenistan on Statistics",
     "Государственный комитет Туркменистана по статистике", None),
    ("TKM_MIG", "State Migration Service of Turkmenistan",
     "Государственная миграционная служба Туркменистана", None),
    ("TKM_BORDER", "State Border Service of Turkmenistan",
     "Государственная пограничная служба Туркменистана", None),
    ("TKM_LABOUR", "Ministry of Labour and Social Protection of Population of Turkmenistan",
     "Министерство труда и социальной защиты населения Туркменистана", None),
    ("TKM_MFA", "Ministry of Foreign Affairs of Turkmenistan",
     "Министерство иностранных дел Туркменистана", None),
    # Ukraine
    ("UKR_STAT", "State Statistics Service of Ukraine",
     "Государственная служба статистики Украины", None),
    ("UKR_MIG", "State Migration Service of Ukraine",
     "Государственная миграционная служба Украины", None),
    ("UKR_BORDER", "State Border Guard Service of Ukraine",
     "Государственная пограничная служба Украины", None),
    ("UKR_LABOUR", "State Employment Service of Ukraine",
     "Государственная служба занятости Украины", None),
    ("UKR_MFA", "Ministry of Foreign Affairs of Ukraine",
     "Министерство иностранных дел Украины", None),
    # Uzbekistan: not party to the 1951 Convention, so no asylum dataflows
    ("UZB_STAT", "Statistics Agency under the President of the Republic of Uzbekistan",
     "Агентство статистики при Президенте Республики Узбекистан", None),
    ("UZB_MIG", "Main Directorate for Migration and Citizenship of the Ministry of Internal Affairs of the Republic of Uzbekistan",
     "Главное управление миграции и оформления гражданства Министерства внутренних дел Республики Узбекистан",
     ["FOREIGN_POP"]),
    ("UZB_BORDER", "Border Troops of the State Security Service of the Republic of Uzbekistan",
     "Пограничные войска Службы государственной безопасности Республики Узбекистан", None),
    ("UZB_LABOUR", "Ministry of Employment and Poverty Reduction of the Republic of Uzbekistan",
     "Министерство занятости и сокращения бедности Республики Узбекистан", None),
    ("UZB_MFA", "Ministry of Foreign Affairs of the Republic of Uzbekistan",
     "Министерство иностранных дел Республики Узбекистан", None),
]


def provider_dataflows(provider_id: str, override: list[str] | None) -> list[str]:
    """Dataflow suffixes the provider reports: its own list, else its role's."""
    return override if override is not None else ROLE_DATAFLOWS[provider_id.split("_", 1)[1]]

# fmt: on
