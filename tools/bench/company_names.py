"""Synthetic Chinese company and person names in the shape real ones have, for benchmarks that need many.

A company is region + brand + trade + legal form (杭州恒信科技有限公司); `variant` writes the same company the way
another person would (legal form dropped or changed, region dropped, (集团) added, traditional characters, one
character mistyped). Deterministic for a given random.Random.
"""

from __future__ import annotations

import random

from customer_master.names import _CITIES, _PROVINCES, normalize_company_name

BRAND_CHARS = (
    "华中国恒信达通宏泰安盛金鑫隆兴发长城天海东方新星光明永利丰源瑞祥和美佳德立博创远腾飞龙凤鹏翔汇聚嘉联合"
    "众鼎正昌明辉宇宙环球万豪富贵吉康健宁静雅博文思睿智慧科技云端数码网讯易迅捷速达航运星月阳晨曦晓峰岩石"
    "森林江河湖泊山川沃土良田丰收禾苗绿叶青松白云蓝天红日紫金银铜铁钢精工匠心品质优选臻享悦乐欢喜福寿"
)
TRADES = (
    "科技",
    "信息技术",
    "贸易",
    "实业",
    "医药",
    "电子",
    "建设工程",
    "食品",
    "物流",
    "文化传媒",
    "网络科技",
    "机械",
    "新材料",
    "环保科技",
    "生物科技",
    "投资",
    "商贸",
    "服装",
    "电气",
    "汽车服务",
    "教育咨询",
    "餐饮管理",
    "软件",
)
FORMS = ("有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "科技有限公司")
TRADITIONAL = str.maketrans(
    "华国东长发兴达龙凤汇联众万丰乐欢宁静云网讯运晓银铜铁钢选优",
    "華國東長發興達龍鳳匯聯眾萬豐樂歡寧靜雲網訊運曉銀銅鐵鋼選優",
)


def company_name(rng: random.Random) -> str:
    """A synthetic company name."""
    region = rng.choice(_PROVINCES + _CITIES) + rng.choice(("", "市", "省")) if rng.random() < 0.8 else ""
    brand = "".join(rng.choices(BRAND_CHARS, k=rng.choice((2, 2, 3, 4))))
    return region + brand + rng.choice(TRADES) + rng.choice(FORMS)


def variant(name: str, rng: random.Random) -> str:
    """Another way somebody would write the same company."""
    parsed = normalize_company_name(name)
    core = parsed.core
    if rng.random() < 0.3 and len(core) > 3:
        at = rng.randrange(len(core))
        core = core[:at] + rng.choice(BRAND_CHARS) + core[at + 1 :]
    region = parsed.region if rng.random() < 0.6 else ""
    suffix = rng.choice(("", "(集团)", "有限公司", "股份有限公司", "集团"))
    text = region + core + suffix
    return text.translate(TRADITIONAL) if rng.random() < 0.2 else text


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉建文斌宇浩凯健俊帆帅旭宁龙林欣佳晨"


def person_name(rng: random.Random) -> str:
    """A synthetic Chinese personal name: surname and one or two given-name characters."""
    return rng.choice(SURNAMES) + "".join(rng.choices(GIVEN_CHARS, k=rng.choice((1, 2, 2))))
