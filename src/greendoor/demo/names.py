"""Word lists for the demo portfolio (fictional companies and people)."""

NAME_HEADS = (
    "Acme", "Apex", "Arbor", "Atlas", "Aurora", "Beacon", "Birch", "Blue Harbor", "Bright",
    "Cascade", "Cedar", "Citadel", "Clearwater", "Cobalt", "Copper", "Crescent", "Crown",
    "Delta", "Ember", "Evergreen", "Falcon", "Fjord", "Frontier", "Golden Gate", "Granite",
    "Harbor", "Helix", "Horizon", "Iron", "Juniper", "Keystone", "Lakeside", "Lantern",
    "Legacy", "Lighthouse", "Maple", "Meridian", "Metro", "Midway", "Mosaic", "Nimbus",
    "North Star", "Northwind", "Oak", "Orbit", "Pacific", "Paragon", "Peak", "Pinnacle",
    "Pioneer", "Polaris", "Prairie", "Quantum", "Redwood", "Ridge", "River", "Sage",
    "Sierra", "Silver", "Spruce", "Stellar", "Summit", "Sunrise", "Terra", "Tidal",
    "Timber", "Trident", "Union", "Valley", "Vantage", "Vertex", "Willow", "Zenith",
)
NAME_BODIES = (
    "Analytics", "Bank", "Biotech", "Capital", "Clinics", "Cloud", "Commerce", "Data",
    "Devices", "Energy", "Engineering", "Foods", "Freight", "Health", "Insurance", "Labs",
    "Learning", "Logistics", "Manufacturing", "Media", "Medical", "Mobility", "Networks",
    "Outfitters", "Partners", "Payments", "Pharma", "Retail", "Robotics", "Security",
    "Software", "Solutions", "Studios", "Supply", "Systems", "Telecom", "Therapeutics",
    "Travel", "Ventures", "Works",
)
NAME_TAILS = ("", " Inc", " Group", " Co", " Ltd", " LLC", " Holdings", " International")

INDUSTRIES = (
    ("Financial Services", 0.15), ("Healthcare", 0.12), ("Retail", 0.10),
    ("Manufacturing", 0.11), ("Technology", 0.18), ("Education", 0.07), ("Media", 0.06),
    ("Logistics", 0.08), ("Professional Services", 0.09), ("Public Sector", 0.04),
)

# country, region, weight
COUNTRIES = (
    ("US", "North America", 0.42), ("CA", "North America", 0.05), ("GB", "EMEA", 0.10),
    ("DE", "EMEA", 0.07), ("FR", "EMEA", 0.05), ("NL", "EMEA", 0.03), ("ES", "EMEA", 0.03),
    ("SE", "EMEA", 0.02), ("AU", "APAC", 0.05), ("IN", "APAC", 0.04), ("JP", "APAC", 0.03),
    ("SG", "APAC", 0.03), ("BR", "LATAM", 0.05), ("MX", "LATAM", 0.03),
)
#: One country whose public holidays stand for the region's (usage seasonality).
REGION_HOLIDAY_COUNTRY = {"North America": "US", "EMEA": "GB", "APAC": "AU", "LATAM": "BR"}

FIRST_NAMES = (
    "Aaliyah", "Adam", "Aisha", "Alex", "Amara", "Ana", "Andre", "Ben", "Carla", "Chen",
    "Chloe", "Daniel", "Diego", "Elena", "Emeka", "Emma", "Fatima", "Felix", "Grace",
    "Hannah", "Hiro", "Ines", "Isaac", "Jamal", "Jana", "Javier", "Julia", "Kai", "Karin",
    "Laura", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mohammed", "Nadia", "Noah", "Olivia",
    "Omar", "Priya", "Rafael", "Rosa", "Sam", "Sofia", "Tariq", "Tom", "Valentina",
    "Wei", "Yara", "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Adams", "Ahmed", "Alvarez", "Andersson", "Baker", "Bianchi", "Brown", "Campbell",
    "Costa", "Das", "Dubois", "Evans", "Fischer", "Garcia", "Gupta", "Hansen", "Hughes",
    "Ito", "Jensen", "Khan", "Kim", "Kowalski", "Lee", "Lopez", "Martin", "Meyer",
    "Moreau", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Patel",
    "Perez", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Taylor",
    "Thompson", "Vargas", "Walker", "Wang", "Weber", "Wilson", "Yilmaz", "Zhang",
)

TITLES = {
    "champion": ("Operations Manager", "Data Director", "Head of Analytics", "IT Director",
                 "Product Operations Lead"),
    "executive_sponsor": ("VP Operations", "Chief Data Officer", "CTO", "VP Security", "COO"),
    "decision_maker": ("Director of IT", "Head of Procurement", "VP Finance", "CIO"),
    "admin": ("System Administrator", "Platform Admin", "IT Specialist"),
    "user": ("Analyst", "Specialist", "Coordinator", "Engineer", "Associate"),
}

FEATURES = (
    ("dashboards", 1.00, 0.004), ("reports", 0.85, 0.006), ("alerts", 0.60, 0.004),
    ("data_import", 0.55, 0.020), ("exports", 0.50, 0.008), ("collaboration", 0.45, 0.004),
    ("workflows", 0.40, 0.012), ("integrations", 0.35, 0.030), ("api", 0.30, 0.025),
    ("admin_console", 0.25, 0.005), ("mobile_app", 0.20, 0.010), ("ai_insights", 0.15, 0.015),
)  # name, popularity, base error rate per event

TICKET_CATEGORIES = (
    "Bug Report", "Feature Request", "Documentation Gap", "Usability Issue",
    "Performance Issue", "Integration Question", "How-To Question",
)
TICKET_TOPICS = (
    "SSO setup", "CSV export", "Salesforce sync", "dashboard filters", "API rate limits",
    "scheduled reports", "user provisioning", "alert thresholds", "data import mapping",
    "mobile login", "workflow triggers", "permissions model", "Slack integration",
    "audit trail export", "custom fields",
)

CHURN_FEEDBACK = {
    "pricing": ("Price increase at renewal was hard to justify.", "Found a cheaper option."),
    "budget": ("Budget cuts across the department.", "Cost optimization initiative; tools consolidated."),
    "competitor": ("Moved to a competitor with a broader suite.", "Switched to competitor."),
    "features": ("Missing features we needed for our workflows.", "Integration gaps blocked adoption."),
    "support": ("Too many unresolved issues and slow support.", "Escalations were not resolved in time."),
    "other": ("Company acquired; consolidating vendors.", "Project discontinued."),
}

NPS_COMMENTS = {
    "promoter": ("Great product, our team relies on it daily.", "Support is excellent.",
                 "Saves us hours every week."),
    "passive": ("Works well, some rough edges.", "Good, but reporting could be better."),
    "detractor": ("Too many bugs lately.", "Hard to get value; considering alternatives.",
                  "Support response has been slow."),
}

#: The demo's product and its competitors, as the mentions name them (the settings'
#: ``mentions.brand_keywords`` and ``mentions.competitors`` default to these).
PRODUCT = "Lumora"
COMPETITORS = ("Stratus", "Cirrus")
MENTION_SOURCES = ("community", "linkedin", "x", "g2", "reddit")
#: Community and social posts by tone; {product} and {competitor} are filled in.
MENTION_TEXTS = {
    "positive": (
        "{product} dashboards have made our weekly ops review so much faster. Love it.",
        "Big thanks to the {product} support team, they fixed our SSO issue in an hour!",
        "Just presented our {product} rollout at the user group, great community.",
        "Five stars for {product}: easy to set up and the reports are excellent.",
        "We compared {competitor} and {product}; {product} won easily on usability.",
        "The new {product} workflows feature is a huge win for our team.",
    ),
    "neutral": (
        "Anyone know if {product} supports exporting scheduled reports to S3?",
        "Migrating our data import mapping to {product} this quarter.",
        "How does {product} handle API rate limits for bulk syncs?",
        "Looking at {competitor} and {product} for our analytics stack, any experiences?",
        "Attending the {product} webinar on permissions next week.",
    ),
    "negative": (
        "{product} has been down twice this week and support is slow to respond. Frustrating.",
        "Really disappointed with {product} lately, too many bugs in the exports.",
        "Seriously considering moving to {competitor}, {product} pricing is getting ridiculous.",
        "The {product} Salesforce sync broke again. Terrible experience.",
        "Our team hates the new {product} navigation, it's confusing and slow.",
    ),
}
