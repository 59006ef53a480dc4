"""Name normalisation, the credit-code checksum, pair scoring, thresholds and administrator rules."""

from __future__ import annotations

import random
import unicodedata

import pytest

from customer_master.matching import (
    AUTO_MATCH,
    NO_MATCH,
    REVIEW,
    MatchRules,
    Record,
    Rule,
    company_similarity,
    core_similarities,
    person_similarity,
    score_pair,
    valid_credit_code,
)
from customer_master.names import (
    CompanyName,
    _t2s,
    _t2s_entries,
    fold,
    normalize_company_name,
    normalize_person_name,
    split_industry,
)

# Real-world spellings of one company: each pair must reduce to the same key.
SAME_COMPANY = [
    ("杭州某某科技", "杭州某某科技股份有限公司"),
    ("杭州某某科技股份有限公司", "杭州某某科技(集团)"),
    ("杭州某某科技（集团）有限公司", "杭州市某某科技有限公司"),
    ("浙江省杭州市某某科技有限公司", "某某科技有限公司"),
    ("臺灣積體電路製造股份有限公司", "台湾积体电路制造股份有限公司"),
    ("ＡＢＣ　Ｃｏ．，Ｌｔｄ．", "abc co ltd"),
    ("【某某】科技有限公司", "某某科技有限公司"),
    ("上海 某某 贸易 有限责任公司", "上海某某贸易有限公司"),
    ("General Electric Co.", "GENERAL ELECTRIC COMPANY"),
    ("Acme Corp.", "ACME Corporation"),
    ("Acme, Inc.", "acme incorporated"),
    ("Acme LLC", "Acme"),
    ("广西某某集团有限公司", "广西壮族自治区某某集团股份有限公司"),
]

# Different legal entities that look alike: they must not share a key.
DIFFERENT_COMPANY = [
    ("杭州某某科技有限公司上海分公司", "杭州某某科技有限公司"),
    ("招商银行北京分行", "招商银行"),
    ("蒙牛乳业(当阳)有限责任公司", "蒙牛乳业(乌兰浩特)有限责任公司"),
    ("某某证券营业部", "某某证券"),
]


@pytest.mark.parametrize(("left", "right"), SAME_COMPANY)
def test_variants_of_one_company_share_a_key(left: str, right: str) -> None:
    assert normalize_company_name(left).key == normalize_company_name(right).key


@pytest.mark.parametrize(("left", "right"), DIFFERENT_COMPANY)
def test_branches_and_bracketed_places_are_other_entities(left: str, right: str) -> None:
    a, b = normalize_company_name(left), normalize_company_name(right)
    assert a.key != b.key
    score, note = company_similarity(a, b)
    assert score <= 60 and note


def test_company_parts_are_kept_apart() -> None:
    name = normalize_company_name("浙江省杭州市某某科技有限公司上海分公司")
    assert (name.core, name.region, name.legal_form, name.branch) == (
        "某某科技",
        "浙江省杭州市",
        "有限公司",
        "上海分公司",
    )
    # A place alone is a name, not a prefix to strip.
    assert normalize_company_name("上海").core == "上海"


def test_latin_and_chinese_forms_meet_in_pinyin() -> None:
    latin, chinese = (
        normalize_company_name("Hangzhou Moumou Technology Co., Ltd."),
        normalize_company_name("杭州某某科技有限公司"),
    )
    assert latin.latin == chinese.latin == "moumoukeji"
    assert company_similarity(latin, chinese) == (100.0, "")


def test_short_names_score_above_other_companies() -> None:
    short = normalize_company_name("浦发银行")
    right = company_similarity(short, normalize_company_name("上海浦东发展银行股份有限公司"))[0]
    wrong = company_similarity(short, normalize_company_name("上海银行股份有限公司"))[0]
    assert right > wrong


def test_same_name_in_another_city_is_only_similar() -> None:
    score, note = company_similarity(normalize_company_name("北京某某科技"), normalize_company_name("杭州某某科技"))
    assert note == "region differs" and 75 <= score < 90


@pytest.mark.parametrize(
    ("raw", "full", "latin", "title_only"),
    [
        ("张经理", "张", "zhang", True),
        ("张总", "张", "zhang", True),
        ("张丽女士", "张丽", "zhang li", False),
        ("欧阳娜娜", "欧阳娜娜", "ouyang nana", False),
        ("Mr. John  Smith", "john smith", "john smith", False),
        ("張麗", "张丽", "zhang li", False),
    ],
)
def test_person_names_lose_titles_and_gain_pinyin(raw: str, full: str, latin: str, title_only: bool) -> None:
    name = normalize_person_name(raw)
    assert (name.full, name.latin, name.title_only) == (full, latin, title_only)


def test_person_names_across_scripts_and_orders() -> None:
    zhang_li = normalize_person_name("张丽")
    assert person_similarity(zhang_li, normalize_person_name("Zhang Li")) == (100.0, True)
    assert person_similarity(zhang_li, normalize_person_name("Li Zhang"))[0] == 100.0
    # A title alone only says the surname agrees.
    assert person_similarity(zhang_li, normalize_person_name("张经理")) == (60.0, True)
    assert person_similarity(zhang_li, normalize_person_name("王经理")) == (0.0, False)
    assert person_similarity(zhang_li, normalize_person_name("张伟"))[0] < 70


@pytest.mark.parametrize(
    "code", ["91350100M000100Y43", "911101080828461726", "91110000600037341L", "91440300MA5EXAMP1F"]
)
def test_valid_credit_codes(code: str) -> None:
    assert valid_credit_code(code)
    assert valid_credit_code(code.lower()[:6] + " " + code[6:])


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y44", "91350100M000100Y4", "91350100M000100Y433", "9135010OM000100Y43", "", "I1350100M000100Y43"],
)
def test_invalid_credit_codes(code: str) -> None:
    assert not valid_credit_code(code)


def test_credit_codes_decide_when_valid_on_both_sides() -> None:
    rules = MatchRules()
    same = score_pair(
        Record(company="完全不同的名字", credit_code="91350100M000100Y43"),
        Record(company="某某科技", credit_code="91350100M000100Y43"),
        rules,
    )
    assert (same.decision, same.rule) == (AUTO_MATCH, "credit code decides")
    other = score_pair(
        Record(company="某某科技", credit_code="91350100M000100Y43"),
        Record(company="某某科技", credit_code="911101080828461726"),
        rules,
    )
    assert other.decision == NO_MATCH
    # An invalid code is ignored: the names decide.
    typo = score_pair(
        Record(company="某某科技", credit_code="91350100M000100Y44"), Record(company="某某科技有限公司"), rules
    )
    assert typo.decision == AUTO_MATCH and typo.rule.startswith("score")


def test_thresholds_and_explanation() -> None:
    rules = MatchRules(auto_match=95, review=80, rules=[])
    result = score_pair(Record(company="北京某某科技"), Record(company="杭州某某科技"), rules)
    explained = result.explanation()
    assert explained["decision"] == REVIEW and explained["rule"] == "score ≥ review 80"
    assert explained["fields"][0] == {"field": "company", "score": 85.0, "note": "region differs"}
    assert [f["field"] for f in explained["fields"]] == ["company", "phone", "email", "contact", "domain", "address"]
    stricter = score_pair(
        Record(company="北京某某科技"), Record(company="杭州某某科技"), MatchRules(review=90, rules=[])
    )
    assert stricter.decision == NO_MATCH


def test_administrator_rules_raise_or_veto() -> None:
    # Another city: the company scores 85, below the thresholds set here, so only the rule can raise it.
    left = Record(company="北京某某信息技术", contact="张伟")
    right = Record(company="杭州某某信息技术有限公司", contact="张丽")
    plain = score_pair(left, right, MatchRules(rules=[]))
    assert plain.decision != REVIEW or plain.score >= 75
    surname = MatchRules(auto_match=99, review=99, rules=[Rule("company ≥ 85 and same surname", REVIEW, 85, True)])
    decided = score_pair(left, right, surname)
    assert (decided.decision, decided.rule) == (REVIEW, "company ≥ 85 and same surname")
    veto = MatchRules(rules=[Rule("different phone never matches", NO_MATCH, same_phone=False)])
    vetoed = score_pair(
        Record(company="某某科技", phone="+8613800000001"), Record(company="某某科技", phone="+8613800000002"), veto
    )
    assert (vetoed.decision, vetoed.rule) == (NO_MATCH, "different phone never matches")


def test_rules_round_trip_and_refuse_nonsense() -> None:
    rules = MatchRules(auto_match=93, review=70, rules=[Rule("x", REVIEW, company_at_least=80)])
    assert MatchRules.from_dict(rules.to_dict()) == rules
    assert MatchRules(auto_match=60, review=70).problems() == [("review", "must satisfy 0 ≤ review ≤ auto_match ≤ 100")]
    assert MatchRules(rules=[Rule("x", "maybe")]).problems() == [
        ("rules[0].decision", "must be auto_match, review or no_match")
    ]


def test_bulk_dedup_clusters_variants_and_queues_the_uncertain() -> None:
    from customer_master.bulk import find_duplicates

    records = [
        Record(company="杭州某某科技"),
        Record(company="杭州某某科技股份有限公司"),
        Record(company="杭州某某科技(集团)"),
        Record(company="Hangzhou Moumou Technology Co., Ltd."),
        Record(company="北京某某科技有限公司"),
        Record(company="杭州某某科技有限公司上海分公司"),
        Record(company="完全无关贸易有限公司", phone="+8613800000001"),
        Record(company="另一家无关公司", phone="+8613800000002"),
    ]
    report = find_duplicates(records, MatchRules())
    assert report.clusters == [[0, 1, 2, 3]] or sorted(report.clusters[0]) == [0, 1, 2, 3]
    assert len(report.clusters) == 1
    assert {tuple(sorted((i, j))) for i, j, _ in report.review_pairs} >= {(0, 4)}
    assert all(5 not in (i, j) for i, j, _ in report.review_pairs)


def test_search_keys_survive_left_out_and_mistyped_characters() -> None:
    short, full = normalize_company_name("宇丰科技有限公司"), normalize_company_name("宇雅丰医药科技集团")
    # 宇 and 丰 stand two apart in the full name: the pair is still a key of both.
    assert "宇丰" in set(short.grams) & set(full.grams)
    typo, right = normalize_company_name("信讯实业科技"), normalize_company_name("信达实业科技有限公司")
    # One character of the distinctive part with the whole trade: rare, and kept by the mistyped name.
    assert "信|实业科技" in set(typo.grams) & set(right.grams)
    # Pairs inside the trade words are no keys: every 实业科技 company has them.
    assert "实业" not in right.grams and "科技" not in right.grams


def test_search_keys_hold_the_core_and_the_place_in_front() -> None:
    name = normalize_company_name("贵阳省技智立工实业有限公司")
    assert {"=技智立工实业", "^贵阳"} <= set(name.grams)
    # 贵技实业 is the short name with the place's first character: the place pairs with the first characters.
    assert "贵技" in set(name.grams) & set(normalize_company_name("贵技实业").grams)
    assert normalize_company_name("Acme Corp.").grams == []


@pytest.mark.parametrize(
    ("core", "brand", "industry"),
    [("信讯实业科技", "信讯", "实业科技"), ("华信信息技术", "华信", "信息技术"), ("科技", "科技", ""), ("华信", "华信", "")],
)
def test_the_trade_is_split_from_the_distinctive_part(core: str, brand: str, industry: str) -> None:
    assert split_industry(core) == (brand, industry)


def test_pool_ranking_uses_the_scorers_own_core_similarity() -> None:
    query = normalize_company_name("德阳省信讯实业科技集团")
    names = [normalize_company_name(n) for n in ("德阳信达实业科技有限公司", "信远实业有限公司", "上海汽车", "信讯实业科技")]
    ranked = core_similarities(query, [n.core for n in names], [n.region[:2] for n in names])
    expected = [company_similarity(query, CompanyName(core=n.core, region=n.region[:2]))[0] for n in names]
    assert list(ranked) == pytest.approx(expected)
    assert ranked.argmax() == 3 and ranked[0] > ranked[1]


def test_latin_key_of_a_chinese_name_is_its_pinyin() -> None:
    assert normalize_company_name("杭州华信科技有限公司").latin == "huaxinkeji"
    assert normalize_company_name("Hangzhou Huaxin Technology Co., Ltd.").latin == "huaxinkeji"


def test_fold_skips_the_converter_only_for_texts_it_would_hand_back_unchanged() -> None:
    entries = _t2s_entries()
    assert entries is not None
    characters, phrases = entries
    rng = random.Random(7)
    texts = ["有序", "沈默", "沈船", "有序科技有限公司", "一目瞭然", "反覆", "乾隆", "頭髮", "ＡＢＣ（有限公司）"]
    texts += ["Acme Co., Ltd.", "杭州恒信科技有限公司", "上海浦東發展銀行", "张丽", "張麗", "萬科企業", "万科企业"]
    for _ in range(3000):
        chars = [chr(0x4E00 + rng.randrange(20992)) for _ in range(rng.randint(1, 10))]
        if rng.random() < 0.3:
            chars.insert(rng.randrange(len(chars)), rng.choice(sorted(characters)))
        if rng.random() < 0.1:
            chars.insert(rng.randrange(len(chars)), rng.choice(phrases))
        texts.append("".join(chars))
    for text in texts:
        assert fold(text) == _t2s().convert(unicodedata.normalize("NFKC", text).casefold()), text
    assert fold("張麗") == "张丽" and fold("有序科技") == _t2s().convert("有序科技")
