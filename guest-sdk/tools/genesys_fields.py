"""What both SDK generators (gen_topics.py for Rust, gen_python_events.py for Python) read the same way from
genesys-detail-events.json: the nested types' short names, and what a field's comment must say."""

NESTED = {
    "CustomerStartDetailEventTopicJourneyContext": "JourneyContext",
    "FlowOutcomeDetailEventTopicFlowMilestone": "FlowMilestone",
    "AttributeDetailEventTopicCommunication": "Communication",
}
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
