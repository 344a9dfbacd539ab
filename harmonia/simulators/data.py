"""The seeded world the simulators serve: one company's people across five SaaS tools.

    world = build_world(seed=7)
    world.contacts[0]["properties"]["email"]      # HubSpot wire shape, quirks included

Everything is generated from ``seed`` alone, so the same seed gives the same ids, emails and
numbers on every run and every machine. Records are kept in each API's *wire* shape (strings
where the API sends strings, offsets in timestamps, national-format phones, stray case and
spaces in emails), so the simulators only have to filter, page and serialize.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger",
         "Léon", "Noël", "Zoë", "José", "Björn", "Amélie", "Chloé", "Søren", "Mia", "Omar", "Priya", "Wei",
         "Fatima", "Hiroshi", "Ingrid", "Kwame", "Lucía", "Mateo", "Nadia", "Olga"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen",
        "Dijkstra", "Müller", "O'Brien", "García", "Nakamura", "Okafor", "Svensson", "Kowalski", "Rossi",
        "Dubois", "Singh", "Chen", "Haddad", "Ivanova", "Costa", "Novak", "Larsen", "Moreau", "Fischer"]
DOMAINS = ["example.com", "mail.example.com", "example.org", "shop.example.net"]
STAGES = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
          "evangelist", "other"]
PRODUCTS = [("Trail Running Shoes", "89.00"), ("Merino Wool Socks", "14.50"), ("Rain Jacket", "129.99"),
            ("Water Bottle 750ml", "19.95"), ("Headlamp", "34.00"), ("Yoga Mat", "42.00"),
            ("Insulated Mug", "24.99"), ("Daypack 20L", "74.50"), ("Sunglasses", "59.00"),
            ("Gift Card", "25.00"), ("Compression Sleeves", "29.90"), ("Energy Gels (12)", "21.60")]
EMAIL_CAMPAIGNS = ["Spring sale 2024", "Summer kickoff", "Back to school", "Black Friday early access",
                   "Holiday gift guide", "New year new gear", "Trail season launch", "Members weekend",
                   "Winter clearance", "Product drop: Rain Jacket", "Referral rewards", "Anniversary sale",
                   "Fall essentials", "VIP preview", "Cyber Monday", "Spring sale 2025", "Hydration week",
                   "Runner's guide", "Camping checklist", "Last chance: Summer", "Welcome series",
                   "Re-engagement", "Loyalty points reminder", "Feedback survey", "Gift card promo",
                   "Eco collection", "Marathon training plan", "Weekend flash sale"]
SEARCH_CAMPAIGNS = ["Brand Search", "Generic - Running Shoes", "Generic - Rain Jackets", "Competitor Terms",
                    "Shopping - All Products", "Remarketing Search", "Performance Max - Outdoor",
                    "Local Stores", "Holiday Search Push", "Spring Search", "DSA - Catalog", "Summer Search"]
DEVICES = ["desktop", "mobile", "tablet"]
COUNTRIES = ["United States", "Canada", "United Kingdom", "Germany", "France"]
OFFSETS = [timezone(timedelta(hours=-5)), timezone(timedelta(hours=-4)), timezone(timedelta(hours=1)),
           timezone(timedelta(hours=-8)), UTC]

# The analytics year: fixed so that the same seed always answers the same numbers.
ANALYTICS_START = date(2025, 11, 1)
ANALYTICS_DAYS = 365
LIST_ID = "57afe96172"
LIST_NAME = "Newsletter"


@dataclass
class World:
    """All seeded records, each in its API's wire shape."""

    contacts: list[dict[str, Any]] = field(default_factory=list)          # HubSpot objects
    shopify_customers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)            # Shopify orders, by id asc
    members: dict[str, dict[str, Any]] = field(default_factory=dict)      # subscriber hash -> member
    campaigns: list[dict[str, Any]] = field(default_factory=list)         # Mailchimp campaigns
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)      # campaign id -> report
    ads_campaigns: list[dict[str, Any]] = field(default_factory=list)     # {id, name, status, ...}
    ads_daily: list[dict[str, Any]] = field(default_factory=list)         # per campaign per day
    ga4_rows: list[dict[str, Any]] = field(default_factory=list)          # finest-grain GA4 facts

    def customer_orders(self, customer_id: int) -> list[dict[str, Any]]:
        return [o for o in self.orders if o["customer"] and o["customer"]["id"] == customer_id]


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # Mailchimp's own id scheme, not security


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _messy_email(rng: random.Random, email: str) -> str:
    """The way people type emails into forms: stray case, stray spaces."""
    roll = rng.random()
    if roll < 0.08:
        return email.upper()
    if roll < 0.16:
        return email[0].upper() + email[1:]
    if roll < 0.22:
        return f"  {email} "
    return email


def _national_phone(rng: random.Random) -> tuple[str, str]:
    """(as typed, E.164): US numbers in the formats forms collect, some UK and German ones."""
    area, mid, last = rng.randint(201, 989), rng.randint(200, 999), rng.randint(1000, 9999)
    e164 = f"+1{area}{mid}{last}"
    roll = rng.random()
    if roll < 0.08:
        uk = rng.randint(1000, 9999)
        return f"+44 20 7946 {uk}", f"+44207946{uk}"
    if roll < 0.12:
        de = rng.randint(1000000, 9999999)
        return f"+49 30 {de}", f"+4930{de}"
    formats = [f"({area}) {mid}-{last}", f"{area}.{mid}.{last}", f"{area}-{mid}-{last}",
               f"+1 {area} {mid} {last}", f"1-{area}-{mid}-{last}", e164]
    return rng.choice(formats), e164


def _iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _with_offset(rng: random.Random, dt: datetime) -> str:
    return dt.astimezone(rng.choice(OFFSETS)).isoformat(timespec="seconds")


def _hex_id(rng: random.Random, n: int = 10) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def build_world(seed: int = 7, people: int = 2400) -> World:
    rng = random.Random(seed)
    world = World()
    epoch = datetime(2023, 1, 1, tzinfo=UTC)
    campaign_names = EMAIL_CAMPAIGNS + SEARCH_CAMPAIGNS

    for i in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = _ascii(f"{first}.{last}".lower().replace("'", "").replace(" ", ""))
        email = f"{local}{i}@{rng.choice(DOMAINS)}"
        phone_typed, _ = _national_phone(rng)
        created = epoch + timedelta(minutes=rng.randint(0, 60 * 24 * 900))
        updated = created + timedelta(days=rng.randint(0, 200))
        contact_id = 151 + i * 3
        has_shopify = rng.random() < 0.8
        linked = has_shopify and rng.random() < 0.9
        shopify_id = 6_200_000_000 + i * 7
        # HubSpot sends createdate both ways: ISO from the UI, epoch millis from imports.
        createdate = _iso_ms(created) if rng.random() < 0.7 else str(int(created.timestamp() * 1000))
        props: dict[str, Any] = {
            "createdate": createdate,
            "email": _messy_email(rng, email),
            "firstname": first,
            "lastname": last,
            "hs_object_id": str(contact_id),
            "lastmodifieddate": _iso_ms(updated),
            "lifecyclestage": rng.choice(STAGES),
            "phone": phone_typed if rng.random() < 0.85 else None,
            "shopify_customer_id": str(shopify_id) if linked else None,
        }
        world.contacts.append({
            "id": str(contact_id),
            "properties": props,
            "createdAt": _iso_ms(created),
            "updatedAt": _iso_ms(updated),
            "archived": rng.random() < 0.02,
        })
        if has_shopify:
            world.shopify_customers.append({
                "id": shopify_id,
                "email": _messy_email(rng, email),
                "first_name": first,
                "last_name": last,
                "phone": _national_phone(rng)[0] if rng.random() < 0.6 else None,
                "orders_count": 0,
                "total_spent": "0.00",
                "currency": "USD",
                "state": "enabled",
                "tags": rng.choice(["", "vip", "wholesale", "Léon, Noël"]),
                "verified_email": True,
                "created_at": _with_offset(rng, created + timedelta(hours=rng.randint(1, 48))),
                "updated_at": _with_offset(rng, updated),
                "email_marketing_consent": {
                    "state": rng.choice(["subscribed", "not_subscribed", "unsubscribed"]),
                    "opt_in_level": "single_opt_in",
                    "consent_updated_at": None,
                },
                "admin_graphql_api_id": f"gid://shopify/Customer/{shopify_id}",
            })
        if rng.random() < 0.7:
            h = subscriber_hash(email)
            world.members[h] = {
                "id": h,
                "email_address": email,
                "unique_email_id": _hex_id(rng),
                "email_type": "html",
                "status": rng.choice(["subscribed"] * 5 + ["unsubscribed", "cleaned", "pending", "transactional"]),
                "merge_fields": {"FNAME": first, "LNAME": last},
                "timestamp_opt": (created.isoformat(timespec="seconds")),
                "last_changed": updated.isoformat(timespec="seconds"),
                "member_rating": rng.randint(1, 5),
                "vip": rng.random() < 0.05,
                "tags_count": 0,
                "tags": [],
                "list_id": LIST_ID,
            }

    # Orders: ids ascending with time, like Shopify's.
    order_id, number = 450_789_469, 1001
    stamps: list[tuple[datetime, dict[str, Any]]] = []
    for customer in world.shopify_customers:
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 5, 8])):
            stamps.append((epoch + timedelta(minutes=rng.randint(0, 60 * 24 * 1000)), customer))
    for _ in range(60):  # guest checkouts: no customer record
        stamps.append((epoch + timedelta(minutes=rng.randint(0, 60 * 24 * 1000)), {}))
    stamps.sort(key=lambda pair: pair[0])
    for created, customer in stamps:
        currency = "USD"
        items: list[dict[str, Any]] = []
        total = Decimal("0")
        for _ in range(rng.randint(1, 4)):
            title, price = rng.choice(PRODUCTS)
            qty = rng.randint(1, 3)
            total += Decimal(price) * qty
            items.append({
                "id": order_id * 10 + len(items), "title": title, "quantity": qty, "price": price,
                "sku": title.upper().replace(" ", "-")[:16], "variant_title": None,
                "price_set": {"shop_money": {"amount": price, "currency_code": currency},
                              "presentment_money": {"amount": price, "currency_code": currency}},
            })
        tax = (total * Decimal("0.08")).quantize(Decimal("0.01"))
        status = rng.choice(["open"] * 3 + ["closed"] * 5 + ["cancelled"])
        campaign = rng.choice(campaign_names) if rng.random() < 0.6 else None
        landing = "/collections/all"
        if campaign:
            source = "newsletter" if campaign in EMAIL_CAMPAIGNS else "google"
            landing = f"/products/item?utm_source={source}&utm_medium=cpc&utm_campaign={quote_plus(campaign)}"
        email = customer.get("email") or f"guest{order_id}@example.net"
        stamp = _with_offset(rng, created)
        world.orders.append({
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{number}",
            "order_number": number,
            "email": email,
            "created_at": stamp,
            "processed_at": stamp,
            "updated_at": stamp,
            "currency": currency,
            "presentment_currency": currency,
            "subtotal_price": f"{total:.2f}",
            "total_tax": f"{tax:.2f}",
            "total_price": f"{total + tax:.2f}",
            "financial_status": "refunded" if status == "cancelled" else rng.choice(
                ["paid"] * 6 + ["pending", "partially_refunded", "authorized"]),
            "fulfillment_status": None if status == "open" else "fulfilled",
            "cancelled_at": stamp if status == "cancelled" else None,
            "closed_at": stamp if status == "closed" else None,
            "landing_site": landing,
            "customer": ({"id": customer["id"], "email": customer["email"], "first_name": customer["first_name"],
                          "last_name": customer["last_name"]} if customer else None),
            "line_items": items,
        })
        if customer:
            customer["orders_count"] += 1
            customer["total_spent"] = f"{Decimal(customer['total_spent']) + total + tax:.2f}"
            customer["last_order_id"] = order_id
            customer["last_order_name"] = f"#{number}"
        order_id += rng.randint(1, 40)
        number += 1

    # Mailchimp campaigns and reports.
    list_size = len(world.members)
    for idx, title in enumerate(EMAIL_CAMPAIGNS):
        cid = _hex_id(rng)
        created = datetime(2024, 1, 8, 9, tzinfo=UTC) + timedelta(days=idx * 24)
        status = "sent" if idx < len(EMAIL_CAMPAIGNS) - 4 else rng.choice(["save", "schedule", "paused"])
        send = created + timedelta(days=2) if status == "sent" else None
        sent = list_size - rng.randint(0, 40) if send else 0
        world.campaigns.append({
            "id": cid, "web_id": 100000 + idx, "type": "regular", "status": status,
            "create_time": created.isoformat(timespec="seconds"),
            "send_time": send.isoformat(timespec="seconds") if send else "",
            "emails_sent": sent, "content_type": "template",
            "recipients": {"list_id": LIST_ID, "list_name": LIST_NAME, "recipient_count": sent},
            "settings": {"subject_line": title, "preview_text": "", "title": title,
                         "from_name": "Harmonia Outdoor", "reply_to": "hello@example.com"},
        })
        if send:
            u_opens = int(sent * rng.uniform(0.25, 0.55))
            u_clicks = int(u_opens * rng.uniform(0.08, 0.25))
            world.reports[cid] = {
                "id": cid, "campaign_title": title, "type": "regular", "list_id": LIST_ID,
                "list_name": LIST_NAME, "subject_line": title, "emails_sent": sent,
                "abuse_reports": rng.randint(0, 2), "unsubscribed": rng.randint(0, 12),
                "send_time": send.isoformat(timespec="seconds"),
                "opens": {"opens_total": int(u_opens * rng.uniform(1.1, 1.6)), "unique_opens": u_opens,
                          "open_rate": round(u_opens / sent, 4),
                          "last_open": (send + timedelta(days=3)).isoformat(timespec="seconds")},
                "clicks": {"clicks_total": int(u_clicks * 1.3), "unique_clicks": u_clicks,
                           "unique_subscriber_clicks": u_clicks, "click_rate": round(u_clicks / sent, 4),
                           "last_click": (send + timedelta(days=2)).isoformat(timespec="seconds")},
                "_links": [],
            }

    # Mailchimp's campaign objects carry a report_summary once sent (no extra randomness drawn).
    for mc_campaign in world.campaigns:
        sent_report = world.reports.get(mc_campaign["id"])
        if sent_report:
            opens, clicks = sent_report["opens"], sent_report["clicks"]
            mc_campaign["report_summary"] = {
                "opens": opens["opens_total"], "unique_opens": opens["unique_opens"],
                "open_rate": opens["open_rate"], "clicks": clicks["clicks_total"],
                "subscriber_clicks": clicks["unique_subscriber_clicks"],
                "click_rate": clicks["click_rate"],
                "ecommerce": {"total_orders": 0, "total_spent": 0, "total_revenue": 0},
            }

    # Google Ads campaigns with a year of daily metrics.
    for idx, name in enumerate(SEARCH_CAMPAIGNS):
        world.ads_campaigns.append({"id": str(111 + idx * 37), "name": name,
                                    "status": "ENABLED" if idx % 5 else "PAUSED",
                                    "advertisingChannelType": "SEARCH"})
    for day in range(ANALYTICS_DAYS):
        d = (ANALYTICS_START + timedelta(days=day)).isoformat()
        for camp in world.ads_campaigns:
            impressions = rng.randint(200, 6000)
            clicks = int(impressions * rng.uniform(0.01, 0.08))
            world.ads_daily.append({"campaign_id": camp["id"], "date": d, "impressions": impressions,
                                    "clicks": clicks, "cost_micros": clicks * rng.randint(300_000, 2_500_000),
                                    "conversions": round(clicks * rng.uniform(0.0, 0.1), 2)})

    # GA4: sessions per day x campaign x device (plus direct/organic traffic).
    ga_campaigns = [*campaign_names, "(direct)", "(organic)"]
    for day in range(ANALYTICS_DAYS):
        d = (ANALYTICS_START + timedelta(days=day)).strftime("%Y%m%d")
        for camp_name in ga_campaigns:
            if camp_name not in ("(direct)", "(organic)") and rng.random() < 0.35:
                continue
            source, medium = (("newsletter", "email") if camp_name in EMAIL_CAMPAIGNS else
                              ("google", "cpc") if camp_name in SEARCH_CAMPAIGNS else
                              ("(direct)", "(none)") if camp_name == "(direct)" else ("google", "organic"))
            for device in DEVICES:
                sessions = rng.randint(5, 400) if device != "tablet" else rng.randint(0, 40)
                if sessions == 0:
                    continue
                users = max(1, int(sessions * rng.uniform(0.7, 0.95)))
                conversions = int(sessions * rng.uniform(0.0, 0.06))
                world.ga4_rows.append({
                    "date": d, "sessionCampaignName": camp_name, "sessionSource": source,
                    "sessionMedium": medium, "deviceCategory": device, "country": rng.choice(COUNTRIES),
                    "sessions": sessions, "totalUsers": users, "newUsers": int(users * rng.uniform(0.2, 0.6)),
                    "screenPageViews": int(sessions * rng.uniform(1.5, 5.0)),
                    "engagedSessions": int(sessions * rng.uniform(0.4, 0.8)),
                    "conversions": conversions,
                    "totalRevenue": round(conversions * rng.uniform(30, 160), 2),
                })
    _attribute_some_to_social(world, seed)
    return world


SOCIAL_CAMPAIGNS = ["Reels - Trail Season", "Prospecting - Lookalike 1%", "Retargeting - Cart Abandoners",
                    "Instagram Stories - Rain Jacket", "Advantage+ Shopping", "Lead Gen - Marathon Plan",
                    "Catalog Sales - All Products", "Brand Awareness - Video"]   # the Meta Ads simulator's


def _attribute_some_to_social(world: World, seed: int) -> None:
    """About one order in five that no email or search campaign brought came from a Meta ad. A separate
    random stream: every other seeded record stays exactly what it was before Meta Ads was simulated."""
    rng = random.Random(seed * 101 + 13)
    for order in world.orders:
        if order["landing_site"] == "/collections/all" and rng.random() < 0.2:
            name = rng.choice(SOCIAL_CAMPAIGNS)
            order["landing_site"] = (f"/products/item?utm_source=facebook&utm_medium=paid_social"
                                     f"&utm_campaign={quote_plus(name)}")
