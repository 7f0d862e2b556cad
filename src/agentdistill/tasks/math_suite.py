"""`math`: generated grade-school word problems whose answers need exact multi-step arithmetic.

Numbers are drawn so that mental arithmetic is error-prone for small models (3-4 digit products,
remainders, percentages), which is where writing code pays off. Deterministic by seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Problem = tuple[str, float, str]  # question, answer, template name


def _boxes(r: random.Random) -> Problem:
    boxes, per_box, sold = r.randint(23, 97), r.randint(12, 48), 0
    sold = r.randint(100, boxes * per_box - 1)
    return (
        f"A shop receives {boxes} boxes with {per_box} pencils in each box. It sells {sold} pencils. "
        f"How many pencils are left?",
        boxes * per_box - sold,
        "boxes",
    )


def _salary(r: random.Random) -> Problem:
    hourly, hours, weeks, rent = r.randint(13, 39), r.randint(21, 44), r.randint(3, 9), r.randint(400, 1500)
    return (
        f"Maria earns ${hourly} per hour and works {hours} hours a week. After {weeks} weeks she pays "
        f"${rent} for rent. How many dollars does she have left?",
        hourly * hours * weeks - rent,
        "salary",
    )


def _discount(r: random.Random) -> Problem:
    price, qty, pct = r.randint(120, 980), r.randint(3, 17), r.choice([5, 10, 15, 20, 25, 30, 35, 40])
    total = price * qty * (100 - pct) / 100
    return (
        f"A laptop bag costs ${price}. A school buys {qty} bags and gets a {pct}% discount on the total. "
        f"How many dollars does the school pay?",
        total,
        "discount",
    )


def _trip(r: random.Random) -> Problem:
    speed, hours, extra, stops = r.randint(47, 89), r.randint(3, 11), r.randint(17, 140), r.randint(2, 6)
    return (
        f"A bus drives at {speed} km per hour for {hours} hours, then takes a detour of {extra} km. "
        f"The trip is split equally between {stops} drivers. How many km does each driver drive?",
        (speed * hours + extra) / stops,
        "trip",
    )


def _garden(r: random.Random) -> Problem:
    rows, per_row, dead, baskets = r.randint(17, 63), r.randint(14, 38), r.randint(20, 90), r.randint(4, 9)
    plants = rows * per_row - dead
    return (
        f"A farmer plants {rows} rows with {per_row} tomato plants each, and {dead} plants die. Each remaining "
        f"plant gives {baskets} tomatoes. How many tomatoes does the farmer harvest?",
        plants * baskets,
        "garden",
    )


def _savings(r: random.Random) -> Problem:
    start, weekly, weeks, spend = r.randint(150, 900), r.randint(35, 120), r.randint(9, 52), r.randint(100, 800)
    return (
        f"Tom has ${start} in savings. He adds ${weekly} every week for {weeks} weeks and then spends ${spend} "
        f"on a bike. How many dollars does he have now?",
        start + weekly * weeks - spend,
        "savings",
    )


def _tickets(r: random.Random) -> Problem:
    adult, child, adults, children = r.randint(18, 64), r.randint(7, 17), r.randint(23, 190), r.randint(31, 260)
    return (
        f"A museum charges ${adult} per adult and ${child} per child. On Saturday {adults} adults and "
        f"{children} children visit. How many dollars does the museum take in?",
        adult * adults + child * children,
        "tickets",
    )


def _remainder(r: random.Random) -> Problem:
    students, per_bus = r.randint(310, 2900), r.randint(38, 61)
    return (
        f"{students} students go on a school trip. Each bus holds {per_bus} students. How many buses are "
        f"needed so that every student has a seat?",
        -(-students // per_bus),
        "buses",
    )


TEMPLATES: list[Callable[[random.Random], Problem]] = [
    _boxes,
    _salary,
    _discount,
    _trip,
    _garden,
    _savings,
    _tickets,
    _remainder,
]


def generate(count: int, seed: int = 0) -> list[Problem]:
    """`count` problems, cycling through the templates, deterministic by seed."""
    r = random.Random(seed)
    return [TEMPLATES[i % len(TEMPLATES)](r) for i in range(count)]
