"""What the SDK generators (gen_topics.py for Rust, gen_python_events.py for Python, gen_ts_events.py for
TypeScript) read the same way from genesys-detail-events.json: the nested types' short names, the enums' type
names, and what a field's comment must say."""

NESTED = {
    "CustomerStartDetailEventTopicJourneyContext": "JourneyContext",
    "FlowOutcomeDetailEventTopicFlowMilestone": "FlowMilestone",
    "AttributeDetailEventTopicCommunication": "Communication",
}


def enum_alias(name):
    """An enum's type name in the Python and TypeScript SDKs (`mediaType` → `MediaType`)."""
    return name[0].upper() + name[1:]


PERSONAL = {"ani", "dnis", "addressTo", "addressFrom", "callbackNumbers", "callbackUserName"}


def notes(field):
    """What a field's doc says beyond its type, as sentences without their final full stop."""
    parts = []
    t = field["type"]
    if "epoch ms" in t:
        parts.append("Epoch milliseconds (UTC)")
    elif "(ms)" in t:
        parts.append("Milliseconds")
    if field["name"] in PERSONAL:
        parts.append("Personal data: never log it; redact or hash it before it leaves the rule")
    if "since" in field:
        parts.append(f"Sent since {field['since']}")
    return parts
