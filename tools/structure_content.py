"""What the DSM structure files say: codes, concepts, providers, as plain data.

tools/build_structures.py turns these tables into SDMX-ML 2.1; edit here, rerun it, commit both.
Every label is a pair (English, Russian). Order in each table is the order written to the files.

Order of this file: cross-domain codelists, domain codelists, CL_AREA extras, concepts,
components of the DSDs, dataflows and categories, agencies and data providers.
"""

# fmt: off
# The tables below are aligned by hand, one entry per line or two; ruff format leaves them.
# --- cross-domain codelists (SDMX global codes; CL_AREA lives in codelist_area()) -------------

FREQ = [
    ("A", "Annual", "Годовая"),
    ("S", "Half-yearly, semester", "Полугодовая"),
    ("Q", "Quarterly", "Квартальная"),
    ("M", "Monthly", "Месячная"),
    ("W", "Weekly", "Недельная"),
    ("D", "Daily", "Ежедневная"),
    ("B", "Daily, business week", "Ежедневная (рабочие дни)"),
    ("H", "Hourly", "Почасовая"),
    ("N", "Minutely", "Поминутная"),
]

SEX = [
    ("_T", "Total", "Всего"),
    ("F", "Female", "Женщины"),
    ("M", "Male", "Мужчины"),
    ("_O", "Other", "Другое"),
    ("_U", "Unknown", "Неизвестно"),
    ("_N", "Non response", "Нет ответа"),
    ("_Z", "Not applicable", "Неприменимо"),
]

OBS_STATUS = [
    ("A", "Normal value", "Обычное значение"),
    ("B", "Time series break", "Разрыв временного ряда"),
    ("D", "Definition differs", "Определение отличается"),
    ("E", "Estimated value", "Оценочное значение"),
    ("F", "Forecast value", "Прогнозное значение"),
    ("G", "Experimental value", "Экспериментальное значение"),
    ("I", "Imputed value (CCSA definition)", "Вменённое значение (по определению CCSA)"),
    ("K", "Data included in another category", "Данные включены в другую категорию"),
    ("L", "Missing value; data exist but were not collected", "Пропуск: данные существуют, но не собраны"),
    ("M", "Missing value; data cannot exist", "Пропуск: данные не могут существовать"),
    ("N", "Not significant", "Незначимое значение"),
    ("O", "Missing value", "Пропущенное значение"),
    ("P", "Provisional value", "Предварительное значение"),
    ("Q", "Missing value; suppressed", "Пропуск: значение скрыто"),
    ("S", "Strike and other special events", "Забастовка или иное особое событие"),
    ("U", "Low reliability", "Низкая надёжность"),
    ("V", "Unvalidated value", "Непроверенное значение"),
]

CONF_STATUS = [
    ("F", "Free (free for publication)", "Свободное (разрешено к публикации)"),
    ("N", "Not for publication, restricted for internal use only", "Не для публикации, только для внутреннего использования"),
    ("C", "Confidential statistical information", "Конфиденциальная статистическая информация"),
    ("D", "Secondary confidentiality set by the sender, not for publication", "Вторичная конфиденциальность, установленная отправителем, не для публикации"),
    ("S", "Secondary confidentiality set and managed by the receiver, not for publication", "Вторичная конфиденциальность, установленная получателем, не для публикации"),
    ("A", "Primary confidentiality due to small counts", "Первичная конфиденциальность из-за малого числа случаев"),
    ("O", "Primary confidentiality due to dominance by one unit", "Первичная конфиденциальность из-за преобладания одной единицы"),
    ("T", "Primary confidentiality due to dominance by two units", "Первичная конфиденциальность из-за преобладания двух единиц"),
    ("G", "Primary confidentiality due to dominance by one or two units", "Первичная конфиденциальность из-за преобладания одной или двух единиц"),
    ("M", "Primary confidentiality due to data declared confidential based on other measures of concentration", "Первичная конфиденциальность по иным показателям концентрации"),
]

UNIT_MULT = [
    ("0", "Units", "Единицы"),
    ("1", "Tens", "Десятки"),
    ("2", "Hundreds", "Сотни"),
    ("3", "Thousands", "Тысячи"),
    ("4", "Tens of thousands", "Десятки тысяч"),
    ("5", "Hundreds of thousands", "Сотни тысяч"),
    ("6", "Millions", "Миллионы"),
    ("9", "Billions", "Миллиарды"),
]

UNIT_MEASURE = [
    ("PS", "Persons", "Человек"),
    ("NUMBER", "Number (of documents, applications or events)", "Число (документов, заявлений или событий)"),
    ("PC", "Percent", "Процент"),
    ("_Z", "Not applicable", "Неприменимо"),
]

DECIMALS = [
    ("0", "Zero", "Ноль"),
    ("1", "One", "Один"),
    ("2", "Two", "Два"),
    ("3", "Three", "Три"),
    ("4", "Four", "Четыре"),
    ("5", "Five", "Пять"),
    ("6", "Six", "Шесть"),
]

# --- domain codelists ---------------------------------------------------------------------


def _years(n: int) -> str:
    """Russian genitive/plural of 'year' after a number: 1 год, 4 года, 9 лет, 14 лет."""
    if n % 100 in range(11, 15):
        return "лет"
    return {1: "год", 2: "года", 3: "года", 4: "года"}.get(n % 10, "лет")


def _age_band(low: int, high: int) -> tuple[str, str, str]:
    return (f"Y{low}T{high}", f"{low} to {high} years", f"{low}–{high} {_years(high)}")


AGE = (
    [
        ("_T", "Total (all ages)", "Всего (все возрасты)"),
        ("Y_LT15", "Less than 15 years", "Моложе 15 лет"),
        ("Y15T64", "15 to 64 years", "15–64 года"),
        ("Y_GE65", "65 years or over", "65 лет и старше"),
        ("Y_LT18", "Less than 18 years (children)", "Моложе 18 лет (дети)"),
        ("Y_GE18", "18 years or over (adults)", "18 лет и старше (взрослые)"),
    ]
    + [_age_band(low, low + 4) for low in range(0, 85, 5)]
    + [
        ("Y_GE85", "85 years or over", "85 лет и старше"),
        # Eurostat asylum bands (migr_asyappctza, migr_asydcfsta)
        ("Y_LT14", "Less than 14 years", "Моложе 14 лет"),
        _age_band(14, 17),
        _age_band(18, 34),
        _age_band(35, 64),
        # UNHCR demographic bands
        _age_band(5, 11),
        _age_band(12, 17),
        _age_band(18, 59),
        ("Y_GE60", "60 years or over", "60 лет и старше"),
        ("_U", "Unknown", "Неизвестно"),
    ]
)

DATA_SOURCE = [
    ("_T", "All sources (combined official figure)", "Все источники (сводная официальная оценка)"),
    ("NSO", "National statistics office", "Национальная статистическая служба"),
    ("MIG", "Migration service", "Миграционная служба"),
    ("LAB", "Labour ministry or public employment service", "Министерство труда или государственная служба занятости"),
    ("BRD", "Border service", "Пограничная служба"),
    ("POL", "Police or ministry of internal affairs", "Полиция или министерство внутренних дел"),
    ("CONS", "Consular service (ministry of foreign affairs)", "Консульская служба (министерство иностранных дел)"),
    ("SURV", "Sample survey or census", "Выборочное обследование или перепись"),
    ("INTORG", "International organisation", "Международная организация"),
    ("COMM", "Community or diaspora organisation estimate", "Оценка общинной или диаспорной организации"),
    ("_U", "Source not specified", "Источник не указан"),
]

PERMIT_TYPE = [
    ("_T", "All permit types", "Все виды разрешений"),
    ("WP", "Work permit (employer-based)", "Разрешение на работу (по заявке работодателя)"),
    ("PAT", "Patent for visa-exempt foreign workers", "Патент для иностранных работников из безвизовых стран"),
    ("HQS", "Permit for highly qualified specialists", "Разрешение для высококвалифицированных специалистов"),
    ("SEAS", "Seasonal work permit", "Разрешение на сезонную работу"),
    ("ICT", "Intra-corporate transfer", "Внутрикорпоративный перевод"),
    ("BUS", "Business or self-employment", "Предпринимательская деятельность или самозанятость"),
    ("_O", "Other permit types", "Прочие виды разрешений"),
]

PERMIT_STATUS = [
    ("APPLIED", "Applications lodged", "Поданные заявления"),
    ("GRANTED", "Permits granted", "Выданные разрешения"),
    ("REFUSED", "Applications refused", "Отказы в выдаче"),
    ("WITHDRAWN", "Applications withdrawn", "Отозванные заявления"),
    ("VALID", "Permits valid at the end of the period", "Действующие разрешения на конец периода"),
]

TRAVEL_PURPOSE = [
    ("_T", "All purposes", "Все цели"),
    ("WORK", "Work", "Работа"),
    ("STUDY", "Education and study", "Учёба"),
    ("FAMILY", "Family reasons", "Семейные обстоятельства"),
    ("BUSINESS", "Business or official trip", "Деловая или служебная поездка"),
    ("TOURISM", "Tourism", "Туризм"),
    ("PRIVATE", "Private visit", "Частная поездка"),
    ("TRANSIT", "Transit", "Транзит"),
    ("PERMRES", "Permanent residence", "Постоянное место жительства"),
    ("HUMAN", "Humanitarian reasons and international protection", "Гуманитарные причины и международная защита"),
    ("_O", "Other purposes", "Прочие цели"),
    ("_U", "Purpose not stated", "Цель не указана"),
]

APPLICANT_TYPE = [
    ("_T", "Total applicants", "Всего заявителей"),
    ("FIRST", "First-time applicants", "Впервые обратившиеся заявители"),
    ("SUBSEQ", "Subsequent applicants", "Повторно обратившиеся заявители"),
    ("_U", "Unknown", "Неизвестно"),
]

DECISION = [
    ("_T", "Total decisions", "Всего решений"),
    ("POS", "Positive decisions (total)", "Положительные решения (всего)"),
    ("REFUGEE", "Refugee status granted", "Предоставлен статус беженца"),
    ("COMPL_PROT", "Complementary protection granted", "Предоставлена дополнительная защита"),
    ("HUM_PROT", "Humanitarian protection granted", "Предоставлена защита по гуманитарным основаниям"),
    ("REJECTED", "Application rejected", "Отказ в удовлетворении ходатайства"),
    ("CLOSED", "Otherwise closed (withdrawn, abandoned, transferred)", "Прекращено по иным основаниям (отзыв, неявка, передача)"),
]

DECISION_INSTANCE = [
    ("FIRST", "First instance", "Первая инстанция"),
    ("FINAL", "Final decision on appeal or review", "Окончательное решение по жалобе или пересмотру"),
    ("_U", "Unknown", "Неизвестно"),
]

# (id, English name, Russian name, codes)
CROSS_DOMAIN_CODELISTS = [
    ("CL_FREQ", "Frequency", "Периодичность", FREQ),
    ("CL_SEX", "Sex", "Пол", SEX),
    ("CL_OBS_STATUS", "Observation status", "Статус наблюдения", OBS_STATUS),
    ("CL_CONF_STATUS", "Confidentiality status", "Статус конфиденциальности", CONF_STATUS),
    ("CL_UNIT_MULT", "Unit multiplier", "Множитель единицы измерения", UNIT_MULT),
    ("CL_UNIT_MEASURE", "Unit of measure", "Единица измерения", UNIT_MEASURE),
    ("CL_DECIMALS", "Decimals", "Число десятичных знаков", DECIMALS),
]

MIGRATION_CODELISTS = [
    ("CL_AGE", "Age group", "Возрастная группа", AGE),
    ("CL_DATA_SOURCE", "Data source (producing institution type)", "Источник данных (тип учреждения-производителя)", DATA_SOURCE),
    ("CL_PERMIT_TYPE", "Type of work permit", "Вид разрешения на работу", PERMIT_TYPE),
    ("CL_PERMIT_STATUS", "Stage of the permit procedure", "Стадия оформления разрешения", PERMIT_STATUS),
    ("CL_TRAVEL_PURPOSE", "Purpose of stay or travel", "Цель пребывания или поездки", TRAVEL_PURPOSE),
    ("CL_APPLICANT_TYPE", "Type of asylum applicant", "Категория заявителя на убежище", APPLICANT_TYPE),
    ("CL_DECISION", "Outcome of the asylum decision", "Результат решения по ходатайству об убежище", DECISION),
    ("CL_DECISION_INSTANCE", "Instance of the asylum decision", "Инстанция решения по ходатайству об убежище", DECISION_INSTANCE),
]

# --- CL_AREA: ISO 3166-1 alpha-3 (from pycountry) plus these --------------------------------

REGION = ["ARM", "AZE", "BLR", "GEO", "KAZ", "KGZ", "MDA", "RUS", "TJK", "TKM", "UKR", "UZB"]

EU27_2020 = ["AUT", "BEL", "BGR", "CYP", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA", "GRC", "HRV", "HUN", "IRL", "ITA", "LTU", "LUX", "LVA", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "SWE"]

# Russian ISO names replaced by the form used officially in the region
AREA_RU_OVERRIDES = {
    "KGZ": "Кыргызстан",
    "USA": "Соединённые Штаты Америки",
}

# (id, English, Russian, member countries or None); aggregates first in the codelist
AREA_AGGREGATES = [
    ("_T", "Total (all countries)", "Всего (все страны)", None),
    ("EECA", "Eastern Europe, Caucasus and Central Asia (the 12 DSM countries)", "Восточная Европа, Кавказ и Центральная Азия (12 стран DSM)", REGION),
    ("EAEU", "Eurasian Economic Union", "Евразийский экономический союз", ["ARM", "BLR", "KAZ", "KGZ", "RUS"]),
    ("CA5", "Central Asia", "Центральная Азия", ["KAZ", "KGZ", "TJK", "TKM", "UZB"]),
    ("SCAUC", "South Caucasus", "Южный Кавказ", ["ARM", "AZE", "GEO"]),
    ("EU27_2020", "European Union (27 countries, from 2020)", "Европейский союз (27 стран, с 2020 года)", EU27_2020),
]

# special codes for citizenship and counterpart areas; last in the codelist
AREA_SPECIALS = [
    ("FOR", "Foreign citizens (all citizenships other than the reporting country)", "Иностранные граждане (все гражданства, кроме страны-отправителя данных)"),
    ("XXA", "Stateless persons", "Лица без гражданства"),
    ("_X", "Other countries, not elsewhere specified", "Прочие страны, не указанные отдельно"),
    ("_U", "Unknown", "Неизвестно"),
]

# --- concepts (CS_MIGRATION) ---------------------------------------------------------------
# (id, en name, ru name, en definition, ru definition)

CONCEPTS = [
    ("FREQ", "Frequency", "Периодичность",
     "Time interval at which observations occur over a given time period.",
     "Временной интервал, с которым производятся наблюдения за определённый период."),
    ("REF_AREA", "Reference area (reporting country)", "Отчётная территория (страна)",
     "Country whose authorities record the observation; for stocks the country of usual residence, for flows the country entered or left.",
     "Страна, органы которой регистрируют наблюдение; для численности — страна обычного проживания, для потоков — страна въезда или выезда."),
    ("CITIZENSHIP", "Citizenship", "Гражданство",
     "The particular legal bond between an individual and his or her State, acquired by birth or naturalisation (UN Recommendations on Statistics of International Migration, Rev.1). Includes the reporting country's own citizens, stateless persons and unknown citizenship.",
     "Особая правовая связь между лицом и государством, приобретаемая по рождению или путём натурализации (Рекомендации ООН по статистике международной миграции, ред. 1). Включает собственных граждан страны, лиц без гражданства и лиц с неизвестным гражданством."),
    ("COUNTERPART_AREA", "Counterpart country", "Страна-партнёр",
     "The other country of a bilateral flow or stock: country of previous residence for arrivals, of next residence for departures, of destination for labour emigrants, of residence for citizens abroad. With REF_AREA it pairs both sides of mirror statistics.",
     "Вторая страна двустороннего потока или численности: страна предыдущего проживания для прибывших, последующего проживания для выбывших, назначения для трудовых эмигрантов, проживания для граждан за рубежом. Вместе с REF_AREA позволяет сопоставлять зеркальную статистику."),
    ("SEX", "Sex", "Пол",
     "Biological sex of the person, as recorded by the source.",
     "Биологический пол лица согласно источнику данных."),
    ("AGE", "Age group", "Возрастная группа",
     "Age in completed years at the reference date (stocks) or at the time of the event (flows, applications, decisions).",
     "Возраст в полных годах на отчётную дату (для численности) или на момент события (для потоков, ходатайств и решений)."),
    ("PERMIT_TYPE", "Type of work permit", "Вид разрешения на работу",
     "Category of the authorisation that allows a foreign citizen to take up employment or self-employment in the country.",
     "Категория документа, дающего иностранному гражданину право на работу по найму или самостоятельную занятость в стране."),
    ("PERMIT_STATUS", "Stage of the permit procedure", "Стадия оформления разрешения",
     "Step of the administrative procedure counted: applications lodged, permits granted, applications refused or withdrawn, permits valid at the end of the period.",
     "Учитываемый этап административной процедуры: поданные заявления, выданные разрешения, отказы, отозванные заявления, действующие разрешения на конец периода."),
    ("TRAVEL_PURPOSE", "Purpose of stay or travel", "Цель пребывания или поездки",
     "Main purpose of the stay declared on entry or exit (work, study, family, tourism, permanent residence...). Distinguishes migrants from visitors as the UN Recommendations require.",
     "Основная цель пребывания, заявленная при въезде или выезде (работа, учёба, семья, туризм, постоянное жительство и т. д.). Позволяет отличать мигрантов от посетителей в соответствии с Рекомендациями ООН."),
    ("APPLICANT_TYPE", "Type of asylum applicant", "Категория заявителя на убежище",
     "Whether the person applies for international protection for the first time in the country or after a previous final decision (subsequent application).",
     "Обращается ли лицо за международной защитой в стране впервые или повторно после ранее принятого окончательного решения."),
    ("DECISION", "Outcome of the decision", "Результат решения",
     "Result of the refugee status determination: refugee status, complementary or humanitarian protection, rejection, or otherwise closed.",
     "Результат процедуры определения статуса беженца: статус беженца, дополнительная или гуманитарная защита, отказ или прекращение по иным основаниям."),
    ("DECISION_INSTANCE", "Instance of the decision", "Инстанция решения",
     "Whether the decision was taken at first instance by the determining authority or is final after appeal or review.",
     "Принято ли решение в первой инстанции уполномоченным органом или является окончательным после обжалования или пересмотра."),
    ("DATA_SOURCE", "Data source", "Источник данных",
     "Type of institution or instrument that produced the figure. Lets figures of two producers for the same cell coexist (e.g. border service and statistics office).",
     "Тип учреждения или инструмента, получившего показатель. Позволяет хранить данные двух производителей для одной и той же ячейки (например, пограничной службы и статистического ведомства)."),
    ("TIME_PERIOD", "Time period", "Отчётный период",
     "Reference date (stocks) or reference period (flows) of the observation.",
     "Отчётная дата (для численности) или отчётный период (для потоков) наблюдения."),
    ("OBS_VALUE", "Observation value (persons)", "Значение наблюдения (человек)",
     "Number of persons (or of documents or events where the unit of measure says so).",
     "Число лиц (либо документов или событий, если так указано в единице измерения)."),
    ("OBS_STATUS", "Observation status", "Статус наблюдения",
     "Information on the quality of a value or an unusual or missing value (SDMX cross-domain concept).",
     "Сведения о качестве значения, необычном или отсутствующем значении (межотраслевое понятие SDMX)."),
    ("CONF_STATUS", "Confidentiality status", "Статус конфиденциальности",
     "Information about the confidentiality status of the observation (SDMX cross-domain concept).",
     "Сведения о статусе конфиденциальности наблюдения (межотраслевое понятие SDMX)."),
    ("UNIT_MEASURE", "Unit of measure", "Единица измерения",
     "Unit in which the values are measured (SDMX cross-domain concept).",
     "Единица, в которой измеряются значения (межотраслевое понятие SDMX)."),
    ("UNIT_MULT", "Unit multiplier", "Множитель единицы измерения",
     "Exponent in base 10 by which the values are multiplied (3 for thousands).",
     "Показатель степени 10, на который умножаются значения (3 — тысячи)."),
    ("DECIMALS", "Decimals", "Число десятичных знаков",
     "Number of digits after the decimal separator shown for the values.",
     "Число знаков после десятичного разделителя в значениях."),
    ("NATIONAL_DEFINITION", "National definition", "Национальное определение",
     "How the national definition of the series differs from the UN recommendations (e.g. duration of stay threshold, registration rules, coverage).",
     "Описание отличий национального определения ряда от рекомендаций ООН (например, порог продолжительности пребывания, правила регистрации, охват)."),
    ("COMMENT_OBS", "Observation comment", "Комментарий к наблюдению",
     "Free-text note on a single observation.",
     "Произвольное примечание к отдельному наблюдению."),
    ("COMMENT_DSET", "Dataset note", "Примечание к набору данных",
     "Free-text note on the whole dataset (for example that the data are illustrative).",
     "Произвольное примечание ко всему набору данных (например, что данные носят иллюстративный характер)."),
    # definitional concepts: not components, they fix the meaning of the dataflows
    ("INTL_MIGRANT", "International migrant", "Международный мигрант",
     "Any person who changes his or her country of usual residence (UN Recommendations, Rev.1, 1998); the UN 2021 framework counts a person as an international migrant once he or she has changed country of residence and established a new residence.",
     "Любое лицо, сменившее страну своего обычного проживания (Рекомендации ООН, ред. 1, 1998); согласно концептуальной основе ООН 2021 года лицо считается международным мигрантом после смены страны проживания и обоснования нового места жительства."),
    ("USUAL_RESIDENCE", "Country of usual residence", "Страна обычного проживания",
     "The country in which a person has a place to live where he or she normally spends the daily period of rest; residence is established after at least 12 months (or the intention to stay 12 months).",
     "Страна, в которой у лица есть жильё, где оно обычно проводит ежедневный отдых; проживание считается установленным после не менее 12 месяцев пребывания (или при намерении пребывать 12 месяцев)."),
    ("LT_MIGRANT", "Long-term migrant", "Долгосрочный мигрант",
     "A person who moves to a country other than that of his or her usual residence for a period of at least a year (12 months), so that the country of destination effectively becomes his or her new country of usual residence.",
     "Лицо, переезжающее в страну, отличную от страны его обычного проживания, не менее чем на год (12 месяцев), так что страна назначения фактически становится новой страной его обычного проживания."),
    ("ST_MIGRANT", "Short-term migrant", "Краткосрочный мигрант",
     "A person who moves to a country other than that of his or her usual residence for a period of at least three months but less than a year, except for recreation, holiday, visits, business, medical treatment or religious pilgrimage.",
     "Лицо, переезжающее в страну, отличную от страны его обычного проживания, на срок не менее трёх месяцев, но менее года, за исключением поездок с целью отдыха, посещения родственников, деловых поездок, лечения или паломничества."),
    ("FOREIGN_CITIZEN", "Foreign citizen", "Иностранный гражданин",
     "A person who is not a citizen of the country in which he or she is resident or present, including persons of other citizenships and stateless persons.",
     "Лицо, не являющееся гражданином страны, в которой оно проживает или находится, включая граждан других государств и лиц без гражданства."),
    ("STATELESS", "Stateless person", "Лицо без гражданства",
     "A person who is not considered as a national by any State under the operation of its law (1954 Convention relating to the Status of Stateless Persons).",
     "Лицо, которое не рассматривается гражданином ни одним государством в силу его закона (Конвенция о статусе апатридов 1954 года)."),
    ("ASYLUM_SEEKER", "Asylum seeker", "Лицо, ищущее убежища",
     "A person who has applied for international protection and whose claim has not yet been finally decided.",
     "Лицо, обратившееся за международной защитой, по ходатайству которого ещё не принято окончательное решение."),
    ("REFUGEE", "Refugee", "Беженец",
     "A person recognised under the 1951 Convention and its 1967 Protocol as having a well-founded fear of persecution for reasons of race, religion, nationality, membership of a particular social group or political opinion, and unable or unwilling to return.",
     "Лицо, признанное в соответствии с Конвенцией 1951 года и Протоколом 1967 года имеющим вполне обоснованные опасения стать жертвой преследований по признаку расы, вероисповедания, гражданства, принадлежности к определённой социальной группе или политических убеждений и не могущее или не желающее вернуться."),
    ("COMPL_PROTECTION", "Complementary protection", "Дополнительная защита",
     "Protection granted under national or regional law to persons who do not qualify as refugees but face a real risk of serious harm if returned (e.g. temporary asylum, subsidiary protection).",
     "Защита, предоставляемая по национальному или региональному праву лицам, не признанным беженцами, но подвергающимся реальному риску серьёзного вреда при возвращении (например, временное убежище, субсидиарная защита)."),
    ("WORK_PERMIT", "Work permit", "Разрешение на работу",
     "A document issued by the competent authority that entitles a foreign citizen to take up employment in the country for a specified period (including patents for visa-exempt workers).",
     "Документ, выдаваемый уполномоченным органом и дающий иностранному гражданину право на работу в стране в течение определённого срока (включая патенты для работников из безвизовых стран)."),
]

# --- components ---------------------------------------------------------------------------
# Every DSD takes the dimensions it needs from DIMENSIONS, in this order, then TIME_PERIOD.

DIMENSIONS = {
    "FREQ": "CL_FREQ",
    "REF_AREA": "CL_AREA",
    "CITIZENSHIP": "CL_AREA",
    "COUNTERPART_AREA": "CL_AREA",
    "SEX": "CL_SEX",
    "AGE": "CL_AGE",
    "PERMIT_TYPE": "CL_PERMIT_TYPE",
    "PERMIT_STATUS": "CL_PERMIT_STATUS",
    "TRAVEL_PURPOSE": "CL_TRAVEL_PURPOSE",
    "APPLICANT_TYPE": "CL_APPLICANT_TYPE",
    "DECISION": "CL_DECISION",
    "DECISION_INSTANCE": "CL_DECISION_INSTANCE",
    "DATA_SOURCE": "CL_DATA_SOURCE",
}

# (id, codelist or None for free text, attachment level, assignment status); same in every DSD
ATTRIBUTES = [
    ("OBS_STATUS", "CL_OBS_STATUS", "observation", "Conditional"),
    ("CONF_STATUS", "CL_CONF_STATUS", "observation", "Conditional"),
    ("COMMENT_OBS", None, "observation", "Conditional"),
    ("UNIT_MEASURE", "CL_UNIT_MEASURE", "series", "Conditional"),
    ("UNIT_MULT", "CL_UNIT_MULT", "series", "Conditional"),
    ("DECIMALS", "CL_DECIMALS", "series", "Conditional"),
    ("NATIONAL_DEFINITION", None, "series", "Conditional"),
    ("COMMENT_DSET", None, "dataset", "Conditional"),
]

# --- dataflows (one DSD each, same suffix) and what the dataflow constraint allows ----------

_ALL_AGES = [code for code, _en, _ru in AGE]
_STOCK_AGES = [c for c in _ALL_AGES if c not in {"Y_LT14", "Y14T17", "Y18T34", "Y35T64",
                                                  "Y5T11", "Y12T17", "Y18T59", "Y_GE60"}]
_ASYLUM_AGES = ["_T", "Y_LT18", "Y_GE18", "Y_LT14", "Y14T17", "Y18T34", "Y35T64", "Y_GE65",
                "Y0T4", "Y5T11", "Y12T17", "Y18T59", "Y_GE60", "_U"]
_SEXES = ["_T", "F", "M", "_O", "_U"]
_FREQS = ["A", "S", "Q", "M"]

# (suffix, en, ru, dimensions between REF_AREA and DATA_SOURCE, allowed codes, data sources)
DATAFLOWS = [
    ("FOREIGN_POP", "Foreign population: foreign citizens usually resident in the country",
     "Иностранное население: иностранные граждане, обычно проживающие в стране",
     ["CITIZENSHIP", "SEX", "AGE"], {"AGE": _STOCK_AGES},
     ["_T", "NSO", "MIG", "POL", "SURV", "INTORG", "_U"]),
    ("WORK_PERMITS", "Work permits: applications and decisions",
     "Разрешения на работу: заявления и решения",
     ["CITIZENSHIP", "SEX", "PERMIT_TYPE", "PERMIT_STATUS"], {},
     ["_T", "MIG", "LAB", "POL", "_U"]),
    ("FOREIGN_ENTRY", "Foreign citizens entering the country",
     "Въезд иностранных граждан в страну",
     ["CITIZENSHIP", "COUNTERPART_AREA", "SEX", "TRAVEL_PURPOSE"], {},
     ["_T", "BRD", "NSO", "MIG", "POL", "_U"]),
    ("FOREIGN_EXIT", "Foreign citizens leaving the country",
     "Выезд иностранных граждан из страны",
     ["CITIZENSHIP", "COUNTERPART_AREA", "SEX", "TRAVEL_PURPOSE"], {},
     ["_T", "BRD", "NSO", "MIG", "POL", "_U"]),
    ("ASYLUM_APP", "Applications for asylum (international protection)",
     "Ходатайства о предоставлении убежища (международной защиты)",
     ["CITIZENSHIP", "SEX", "AGE", "APPLICANT_TYPE"], {"AGE": _ASYLUM_AGES},
     ["_T", "MIG", "POL", "INTORG", "_U"]),
    ("ASYLUM_DEC", "Refugee status determination: decisions on asylum applications",
     "Определение статуса беженца: решения по ходатайствам об убежище",
     ["CITIZENSHIP", "SEX", "AGE", "DECISION", "DECISION_INSTANCE"], {"AGE": _ASYLUM_AGES},
     ["_T", "MIG", "POL", "INTORG", "_U"]),
    ("CITIZENS_ABROAD", "Citizens of the country residing abroad",
     "Граждане страны, проживающие за рубежом",
     ["COUNTERPART_AREA", "SEX"], {},
     ["_T", "CONS", "NSO", "SURV", "MIG", "LAB", "INTORG", "COMM", "_U"]),
    ("LABOUR_EMIG", "Citizens departing for work abroad",
     "Граждане, выезжающие на работу за рубеж",
     ["COUNTERPART_AREA", "SEX"], {},
     ["_T", "LAB", "MIG", "NSO", "SURV", "BRD", "CONS", "_U"]),
]

DEFAULT_ALLOWED = {"FREQ": _FREQS, "SEX": _SEXES}

# --- category scheme MIGRATION_TOPICS --------------------------------------------------------

CATEGORIES = [
    ("STOCKS", "Migrant stocks", "Численность мигрантов"),
    ("FLOWS", "Migration flows", "Миграционные потоки"),
    ("LABOUR", "Labour migration", "Трудовая миграция"),
    ("ASYLUM", "Asylum and international protection", "Убежище и международная защита"),
    ("DIASPORA", "Citizens abroad and diaspora", "Граждане за рубежом и диаспора"),
]

CATEGORISATIONS = {
    "FOREIGN_POP": ["STOCKS"],
    "WORK_PERMITS": ["LABOUR"],
    "FOREIGN_ENTRY": ["FLOWS"],
    "FOREIGN_EXIT": ["FLOWS"],
    "ASYLUM_APP": ["ASYLUM"],
    "ASYLUM_DEC": ["ASYLUM"],
    "CITIZENS_ABROAD": ["STOCKS", "DIASPORA"],
    "LABOUR_EMIG": ["LABOUR", "FLOWS", "DIASPORA"],
}

# fmt: on
