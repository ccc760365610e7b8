"""Write notebook 10's data: an original, deliberately messy customer-support ticket dataset, raw and assembled.

    python tools/make_support_tickets.py          # rewrites the files below (same seed, same files)

- ``course_data/support_inbox.jsonl``: the raw messages as three export tools wrote them (each with its own field
  names), plus a few messages nobody labelled: what a student collects and assembles in notebook 10;
- ``course_data/support_tickets.csv``: the labelled messages assembled into one table (what notebook 10's
  collection step must rebuild);
- ``course_data/clinic_inbox.jsonl``: a second, smaller domain (patient messages to a GP practice, to triage), so a
  student can run notebook 10 on another domain (``domain = "clinic_messages"``);
- ``course_data/domains.json``: the domains notebook 10 knows (labels, typo map, the reference numbers its check
  cells compare a student's cleaning with).

Every ticket is assembled from hand-written parts (openers, context clauses, one intent sentence that carries the
label, details, sign-offs) filled with products, features, plans, amounts and dates, so texts vary while the label
stays knowable. Context clauses borrow words from the other classes on purpose ("since my last invoice the app
crashes" is a technical issue), and some intents are indirect, so keyword matching does not solve the task.

Then the mess students must clean is added on purpose: exact duplicates (a double export), near duplicates
(re-submitted tickets), junk rows, inconsistent casing, whitespace, date and channel formats, typos, a few wrong
labels (some as near duplicates with a conflicting label) and class imbalance. The fictional company "Brightdesk"
and everything in the tickets are invented; any resemblance to real customers is accidental.
"""

from __future__ import annotations

import csv
import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "course_utils" / "course_data"
OUT = DATA / "support_tickets.csv"
RAW_OUT = DATA / "support_inbox.jsonl"
DOMAINS_OUT = DATA / "domains.json"
CLINIC_OUT = DATA / "clinic_inbox.jsonl"
SEED = 2024
FIELDS = ["ticket_id", "created_at", "channel", "product", "text", "label"]
CLASS_SIZES = {"technical issue": 190, "billing": 130, "account": 95, "general inquiry": 60}  # imbalanced on purpose
N_EXACT_DUPLICATES, N_NEAR_DUPLICATES, N_CONFLICTING, N_MISLABELLED, N_JUNK = 24, 26, 6, 8, 16

FILL = {
    "product": ["the mobile app", "the iOS app", "the Android app", "the web dashboard", "the desktop client",
                "the browser extension", "Brightdesk Sync", "the public API", "the Outlook add-in", "Brightdesk Teams"],
    "feature": ["the export button", "the calendar view", "file upload", "the search bar", "two-way sync",
                "the reporting page", "notifications", "the CSV import", "shared folders", "the kanban board",
                "dark mode", "the PDF preview", "the time tracker", "the offline mode"],
    "plan": ["Starter", "Pro", "Business", "Enterprise", "Team", "annual Pro", "Family"],
    "amount": ["$9.99", "$19", "$49.00", "$120", "$12.50", "€29", "£15", "$240", "$4.99", "$89"],
    "error": ["ERR-502", "E1043", "error 500", "0x80070005", "SYNC_TIMEOUT", "error code 17", "HTTP 429", "E-220"],
    "device": ["iPhone 13", "Pixel 7", "Galaxy S22", "MacBook Air", "Windows 11 laptop", "iPad", "Chromebook"],
    "month": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"],
    "n": ["2", "3", "5", "12", "20", "45"],
    "days": ["two days", "a week", "three days", "since Monday", "since the weekend", "48 hours"],
}

OPENERS = ["Hi,", "Hello,", "Hi team,", "Good morning,", "Hey,", "Dear support,", "Hello there,", "", "", "", "",
           "Hi Brightdesk,", "To whom it may concern,"]
CLOSINGS = ["Thanks.", "Thank you!", "Thanks in advance.", "Regards, Sam", "Please help.", "Cheers", "", "", "",
            "Any help appreciated.", "Best, Priya", "This is urgent.", "Thx", "Kind regards, J. Okafor"]

# Context clauses mention another class's vocabulary on purpose: keywords alone should not decide the label.
CONTEXT = {
    "technical issue": ["I renewed my {plan} subscription last month and", "My invoices all look fine, but",
                        "I changed my password yesterday and now", "Since I was moved to the {plan} plan,",
                        "I just wanted to ask a quick question:", "After I updated my billing address,",
                        "My colleague's account works, but on mine", "", ""],
    "billing": ["The app itself works great, but", "I can log in without problems, however",
                "Not a technical problem this time:", "After the update last week", "I love the product, but",
                "I reset my password to check my account, and", "Quick question about my account:",
                "", "", ""],
    "account": ["The sync works fine, but", "My last payment went through, but", "No billing question here:",
                "Since the latest app update,", "I'm on the {plan} plan and", "I was going to ask about pricing, but first",
                "", "", ""],
    "general inquiry": ["I'm not having any errors, I just wonder:", "We pay for the {plan} plan and",
                        "My account is all set up, so", "Not urgent and nothing is broken:",
                        "Our team is evaluating tools and", "", ""],
}

INTENTS = {
    "technical issue": [
        'I press save and the little wheel just goes round and round.',
        'my laptop and phone show two different versions of the same note.',
        'since this morning every page I open is just grey.',
        'whatever I type vanishes a second later.',
        'the thing you released on Tuesday broke half of what I do every day.',
        "my team sees a red banner saying 'something went wrong' on {feature}.",
        'opening {feature} takes the whole browser down with it.',
        'I get kicked back to the start screen whenever I touch {feature}.',
        "yesterday's notes are there on the web but missing on my {device}.",
        "the invoice PDF I download is corrupted and won't open in any reader.",
        'your status page says all systems are fine, but nothing loads for us.',
        "{product} crashes every time I open {feature}.",
        "{feature} has been spinning forever and never loads on my {device}.",
        "I keep getting {error} when I try to save anything.",
        "two-way sync stopped working {days} ago and my changes never reach my laptop.",
        "{product} freezes for about a minute whenever I scroll the calendar view.",
        "the billing page itself shows a blank white screen with {error}, so I can't even see my invoice.",
        "notifications don't arrive on my {device} anymore even though they are switched on.",
        "the CSV import fails halfway with {error} on a file of only {n} rows.",
        "{feature} is extremely slow, it takes {n} seconds to react to a click.",
        "files I upload show up as 0 KB and can't be opened.",
        "after the last update {product} won't start at all, it closes right after the splash screen.",
        "the password reset email never arrives, and the link from last week returns {error}.",
        "the login button does nothing on {product}, no error message, it just greys out.",
        "the public API returns {error} for requests that worked fine yesterday.",
        "dark mode makes the text in {feature} invisible, white on white.",
        "my edits disappear after I close {product}; it looks like nothing is being saved.",
        "the PDF preview renders every page upside down.",
        "{product} drains my {device} battery in an hour, something keeps running in the background.",
        "the time tracker double counts every entry I make.",
        "when I share a folder the invitee sees an empty folder.",
        "the Outlook add-in disappeared from the ribbon and reinstalling didn't bring it back.",
        "search returns no results for notes that definitely exist.",
        "offline mode loses everything I typed once I reconnect.",
        "the reporting page shows charts from the wrong month.",
        "I can't attach anything bigger than 1 MB, the upload bar jumps back to zero.",
        "the app signs me out every few minutes, which looks like a bug with sessions.",
        "the charts on my dashboard stopped updating {days} ago.",
        "the kanban board duplicates cards whenever I drag one to another column.",
        "tapping {feature} on my {device} makes the whole screen flicker.",
        "the desktop client is stuck on 'syncing 1 of {n}' forever.",
        "the page for upgrading my plan won't load, it just times out with {error}.",
        "nothing happens when I click {feature}, the console shows {error}.",
    ],
    "billing": [
        'looking at my bank statement, Brightdesk appears twice in {month}.',
        'we stopped using you months ago but money keeps leaving our account.',
        "the amount on the last statement doesn't match what we agreed.",
        'our finance team needs the paperwork for {month} to close the books.',
        'I thought the {plan} upgrade would cost {amount}, the statement says otherwise.',
        'my bank flagged a payment to you as suspicious; was it really {amount}?',
        'can the yearly fee be split into smaller instalments?',
        'the money for the seats we removed should come back to us.',
        'who do I talk to about the cost going up on our renewal?',
        'I paid with the wrong card by mistake, can you move it to the company one?',
        "I was charged {amount} twice for the same month.",
        "I cancelled my {plan} subscription in {month} but you still took {amount} this month.",
        "can I get a refund for the {amount} renewal? I forgot to cancel.",
        "please send me an invoice with our company VAT number on it.",
        "my card was declined but my bank says the payment of {amount} went through.",
        "why did my bill go up from {amount} without any notice?",
        "I'd like to switch from monthly to annual payment.",
        "the receipt for {month} is missing from my billing history.",
        "I was promised a discount for moving to {plan}, but the full price was charged.",
        "please update the credit card we pay with; the old one expires this month.",
        "I see a charge of {amount} from Brightdesk that I don't recognise.",
        "how do I downgrade to {plan} without paying for the rest of the year?",
        "we were billed for {n} seats but only have {n} people using it.",
        "the trial was supposed to be free, yet I got charged {amount} on day one.",
        "can you reissue the {month} invoice in euros instead of dollars?",
        "the refund you promised {days} ago still hasn't reached my account.",
        "is it possible to pay by bank transfer rather than card?",
        "I was charged sales tax although we are tax exempt; the certificate is on file.",
        "our purchase order number has to appear on every invoice, please add it.",
        "you charged {amount} for the app even though it never worked for me, I want my money back.",
        "the price on your website for {plan} is lower than what I pay.",
        "I'd like the money for the unused months back after cancelling.",
        "my statement shows {amount} from you on a card I removed in {month}.",
        "do I still owe anything after switching plans mid-month? The proration is confusing.",
        "the payment page keeps saying my subscription is overdue but I paid {amount} on the first.",
        "please stop renewing automatically; I don't want to be charged again.",
        "I need a copy of every receipt from last year for our accountant.",
    ],
    "account": [
        "my colleague left and we need everything of hers moved under someone else's name.",
        'I got married and want my new surname to show everywhere.',
        "the code you text me never comes, so I'm stuck at the second sign-in step.",
        "I'd like to start fresh and have everything about me wiped.",
        'a new hire starts Monday and needs to be in our workspace.',
        'I think my kid got hold of my login and changed things.',
        "I don't work at Acme anymore but still receive their workspace emails; please take me out.",
        "it says the address I'm trying to register with is already taken, but it's mine.",
        'I want a second person to have the same rights as me in our workspace.',
        "please put our old admin's stuff under my name before his login expires.",
        "I can't remember which email I used to sign up, can you help me get back in?",
        "please delete my account and all my data.",
        "how do I change the email address on my profile? Invoices keep going to my old address.",
        "I'm locked out after too many wrong passwords and the lockout hasn't expired.",
        "someone else seems to have logged into my account from another country.",
        "please transfer ownership of our workspace to my colleague, I'm leaving the company.",
        "I'd like to merge my two accounts into one.",
        "two-factor authentication is on and I lost my phone, how do I get in now?",
        "I need to add {n} new users to our team workspace.",
        "please remove a former employee's access to our shared folders.",
        "can I change my username? It still shows my maiden name.",
        "I want to turn off two-factor authentication for my account.",
        "I accidentally deleted my account yesterday, can it be restored?",
        "my account was suspended and I don't know why.",
        "how do I make another person an admin of our workspace?",
        "I need to verify my identity but the verification email goes to an address I no longer have.",
        "could you unlink my Google login from my account so I can use a password instead?",
        "I'd like to download a copy of all the personal data you hold about me.",
        "our company domain changed, so every user needs a new login email.",
        "I got an email saying my password was changed, but it wasn't me.",
        "please rename our workspace from Acme Old to Acme Group.",
        "my profile still lists me on the {plan} team, please take me off it.",
        "how do I log out of all devices at once? I think I stayed signed in on a shared computer.",
        "the security questions on my profile need to be reset.",
        "I'd like to close my business account but keep my personal one.",
    ],
    "general inquiry": [
        'out of curiosity, is anything new coming for teams this year?',
        'my manager asked me whether your company is based in the US or Europe.',
        "we're thinking of moving our whole department over; what does onboarding look like?",
        'is there a community forum where users share tips?',
        'a friend recommended you; what makes you different from other note apps?',
        'do you publish case studies from companies our size?',
        'how long do you keep backups, in case we ever need one?',
        'can I suggest a feature somewhere public so others can vote?',
        'are your servers powered by renewable energy?',
        "I'm writing a university paper on productivity tools; can I quote your website?",
        "do you have an office in Europe, and where is our data stored?",
        "is there a way to use {product} in Spanish?",
        "what are your support hours on weekends?",
        "are you planning a Linux version of the desktop client?",
        "does {plan} include the API, or is that a separate product?",
        "do you offer discounts for schools and non-profits?",
        "can {product} integrate with Slack or Teams?",
        "I just wanted to say the new calendar view is fantastic, keep it up.",
        "is Brightdesk compliant with GDPR and SOC 2? Our legal team is asking.",
        "what's the difference between the {plan} and Business plans?",
        "do you have a referral or partner programme?",
        "is there a limit on how many notes I can store?",
        "are there any webinars or training sessions for new teams?",
        "how do other customers usually organise shared folders? Any best practices?",
        "when will the kanban board be available on mobile?",
        "could you send me a product brochure for our board meeting?",
        "would you consider adding a feature to colour-code tags?",
        "is there a public roadmap I can follow?",
        "how far in advance do you announce price changes?",
        "we are a team of {n}; which plan would you recommend?",
        "do you have an accessibility statement for screen reader users?",
        "is it possible to host Brightdesk on our own servers?",
    ],
}

# One-off tickets, each used exactly once: worded without the usual keywords, so no template repeats them and a
# model has to understand the request rather than recognise a phrase it saw in training.
ONE_OFFS = {
    "technical issue": [
        "Whenever my colleague and I edit the same page, one of us ends up with a wall of question marks.",
        "The thing just sits there with a grey bar after I hit go.",
        "Since Tuesday the little cloud icon has a red cross on it and my laptop copy is stale.",
        "My screen reader announces every button as 'unlabelled' since your redesign.",
        "The timestamps on everything I wrote today say 1970.",
        "Pasting a table from Excel turns into one long line of text.",
        "Nothing I drag onto the window ends up attached.",
        "The numbers on the weekly summary are exactly double what we actually logged.",
        "Half the team sees yesterday's version of the board and the other half sees today's.",
        "Printing a page gives me a blank sheet with only the header.",
        "My phone gets hot and the battery is gone by lunch whenever your program is open.",
        "The confirmation mail for new invites arrives, but the button inside leads to a page that never finishes.",
    ],
    "billing": [
        "My partner looked at our joint statement and asked me what the two Brightdesk lines are.",
        "The quote your sales rep sent and what came out of our account don't match.",
        "We are a charity; last year we paid half, this year it is full whack.",
        "Could the yearly amount come out in twelve parts instead of one lump?",
        "Our auditors want every payment we made to you since January, stamped and dated.",
        "I closed everything down in spring, so why is there another deduction this month?",
        "The currency on our paperwork is wrong; we are based in Dublin.",
        "Your system took the money on the 1st and again on the 3rd.",
        "Our procurement team says the purchase reference is missing, so they won't approve the payment.",
        "A student deal was advertised, but I'm paying what everyone else pays.",
        "We lost three people this quarter and are still paying for them.",
        "I'd like what I paid for the unused part of the year returned to my card.",
    ],
    "account": [
        "My daughter set this up under her address and now she has left home; I want it under mine.",
        "There's a login from Singapore in my history and I've never been there.",
        "I'm changing jobs and want to keep my personal notes but leave the company team.",
        "The recovery codes I printed have all been used.",
        "Two of us have the same name and the system keeps mixing up our profiles.",
        "My old phone had the authenticator app and it's at the bottom of a lake.",
        "Please make Maria the owner of everything; I'm retiring on Friday.",
        "Under GDPR I'd like to know everything you store about me.",
        "The verification text keeps going to a number I gave up years ago.",
        "An ex-colleague still shows as a member and can see our projects.",
        "I signed up twice by mistake and would like everything in one place.",
        "Someone changed my recovery email last night and it wasn't me.",
    ],
    "general inquiry": [
        "Does your team ever visit customers in Lisbon? We'd love to show you how we use it.",
        "My professor asked whether your tool works for group projects of 30 students.",
        "Are you hiring? I love the product and would like to work on it.",
        "What happens to our notes if your company is ever bought?",
        "Is there a printed manual I can give to my less technical colleagues?",
        "We'd like to mention you in our annual report; is the logo available?",
        "Is a desktop widget on your list for this year?",
        "Which browsers do you officially support?",
        "Who should I talk to about a joint webinar with our company?",
        "Is there an uptime guarantee in writing?",
        "Do you have a podcast or newsletter for tips?",
        "How many people typically work in a Brightdesk team space?",
    ],
}

DETAILS = {
    "technical issue": ["I already tried reinstalling.", "Screenshot attached.", "This happens on {device} too.",
                        "Cleared the cache, no change.", "It started after the {month} update.", "", "", ""],
    "billing": ["Order reference attached.", "My account email is the same as this one.",
                "This is the second time this happened.", "Please fix it before the next renewal.", "", "", ""],
    "account": ["I can confirm my identity if needed.", "This is quite urgent for our audit.",
                "I'm the workspace owner.", "", "", ""],
    "general inquiry": ["No rush at all.", "Just curious.", "We're deciding this month.", "", "", ""],
}

# Asides name some team's topic only to rule it out; every ticket draws from all of them, so they are noise that
# a bag of words still counts.
ASIDES = {
    "technical issue": ["My subscription is paid up and my invoices are fine.", "I'm the account admin, if that matters.",
                        "I don't need a refund, I need it to work.", "My login and password are fine.",
                        "Our plan is {plan}, paid annually."],
    "billing": ["No errors or crashes, it's only about the money.", "I can log in fine and the app works.",
                "My account settings are all correct.", "Everything syncs properly on my {device}.",
                "I'm the account owner."],
    "account": ["All our invoices are paid.", "The app itself runs fine on my {device}.",
                "This isn't about the price.", "No bug here, as far as I can tell.", "We're on the {plan} plan."],
    "general inquiry": ["We have no problem with our invoices or logins.", "Nothing is broken.",
                        "Our account and billing are fine.", "We already pay for {plan}.",
                        "The app works well for us."],
}

TYPOS = {"receive": "recieve", "account": "acount", "password": "pasword", "the": "teh", "charged": "chargd",
         "because": "becuase", "invoice": "invocie", "refund": "refnud", "working": "workign", "cannot": "cant",
         "subscription": "subscripton", "separate": "seperate", "address": "adress", "definitely": "definately",
         "notifications": "notifcations", "calendar": "calender", "until": "untill", "email": "emial"}

JUNK = ["", "   ", "asdfasdf", "test", "TEST TEST", "?????", "n/a", "<html><body></body></html>", "😡😡😡", "...",
        "This is an automated message. Please do not reply.", "null", "1234", "ok", "xxx", "Sent from my iPhone"]
LABEL_SPELLINGS = {"technical issue": ["technical issue", "Technical Issue", "TECHNICAL ISSUE", "technical issue "],
                   "billing": ["billing", "Billing", "BILLING", " billing"],
                   "account": ["account", "Account", "ACCOUNT", "account "],
                   "general inquiry": ["general inquiry", "General Inquiry", "general inquiry ", "GENERAL INQUIRY"]}
CHANNELS = ["email", "Email", "EMAIL ", "chat", "Chat", "web form", "webform", "Web Form", "phone"]
DATE_FORMATS = ["%Y-%m-%d", "%d.%m.%Y", "%B %d, %Y", "%d %b %Y %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%Y/%m/%d"]

# Customers name the same thing many ways; a pretrained model knows these are alike, a bag of words does not.
SYNONYMS = {
    "charged": ["charged", "billed", "debited", "invoiced", "hit with a charge of"],
    "refund": ["refund", "reimbursement", "money back", "credit back", "repayment"],
    "crashes": ["crashes", "closes unexpectedly", "shuts down", "quits on me", "dies", "falls over"],
    "subscription": ["subscription", "membership", "contract", "licence"],
    "invoice": ["invoice", "bill", "statement", "receipt"], "cancel": ["cancel", "terminate", "end", "stop"],
    "delete": ["delete", "erase", "remove", "wipe"], "email address": ["email address", "e-mail", "login email"],
    "workspace": ["workspace", "team space", "organisation", "tenant"],
    "slow": ["slow", "sluggish", "laggy", "painfully slow"], "freezes": ["freezes", "hangs", "locks up", "stalls"],
    "payment": ["payment", "transaction", "charge", "direct debit"], "loads": ["loads", "opens", "appears", "renders"],
    "discount": ["discount", "reduced price", "special rate", "price break"],
    "plan": ["plan", "tier", "package", "edition"], "error": ["error", "fault", "failure", "glitch"],
    "password": ["password", "passcode", "login details", "credentials"],
    "log in": ["log in", "sign in", "get in", "access my stuff"], "locked out": ["locked out", "shut out", "blocked"],
    "bug": ["bug", "defect", "glitch"], "broken": ["broken", "busted", "not working"],
    "admin": ["admin", "administrator", "owner"], "price": ["price", "cost", "fee", "rate"],
    "question": ["question", "query", "thing I was wondering"],
}


def vary_words(text: str, rng: random.Random) -> str:
    """Swap some words for synonyms so the same intent is worded differently across tickets."""
    for word, options in SYNONYMS.items():
        text = re.sub(rf"\b{re.escape(word)}\b", lambda m: rng.choice(options), text)
    return text


def fill(template: str, rng: random.Random) -> str:
    """Replace every {slot} with a random filler."""
    return template.format(**{k: rng.choice(v) for k, v in FILL.items()})


def ticket_text(label: str, rng: random.Random) -> str:
    """One ticket: opener, optional context clause, the intent sentence, optional detail and sign-off."""
    context = fill(rng.choice(CONTEXT[label]), rng)
    intent = fill(rng.choice(INTENTS[label]), rng)
    if context and not context.endswith((":", ".")):
        sentence = f"{context} {intent}"
    else:
        sentence = f"{context} {intent[0].upper() + intent[1:]}".strip()
    if not context:
        sentence = intent[0].upper() + intent[1:]
    pool = [a for others in ASIDES.values() for a in others]  # any team's aside can appear in any ticket
    aside = fill(rng.choice(pool), rng) if rng.random() < 0.45 else ""
    parts = [rng.choice(OPENERS), sentence, aside, fill(rng.choice(DETAILS[label]), rng), rng.choice(CLOSINGS)]
    return vary_words(" ".join(p for p in parts if p), rng)


def add_typos(text: str, rng: random.Random) -> str:
    """Misspell one or two known words (as customers do)."""
    words = text.split(" ")
    spots = [i for i, w in enumerate(words) if w.lower().strip(".,?!") in TYPOS]
    if len(spots) > 1:  # "the" is everywhere: prefer the other words
        spots = [i for i in spots if words[i].lower() != "the"] or spots
    for i in rng.sample(spots, min(len(spots), rng.choice([1, 2]))):
        core = words[i].strip(".,?!")
        words[i] = words[i].replace(core, TYPOS[core.lower()])
    return " ".join(words)


def messy_format(text: str, rng: random.Random) -> str:
    """Inconsistent casing and whitespace: shouting, all lower case, double spaces, stray newlines."""
    roll = rng.random()
    if roll < 0.06:
        text = text.upper()
    elif roll < 0.16:
        text = text.lower()
    if rng.random() < 0.15:
        text = text.replace(". ", ".  ", 1).replace(", ", " ,  ", 1)
    if rng.random() < 0.1:
        text = "  " + text + " \n"
    if rng.random() < 0.05:
        text = text.replace(". ", ".\n", 1)
    return text


def near_duplicate(text: str, rng: random.Random) -> str:
    """The same ticket re-submitted: other casing, punctuation or spacing, or the greeting dropped."""
    variants = [text.lower(), text.rstrip(".!") + "!!", "  " + text.replace(" ", "  ", 2), text.upper(),
                text.split(" ", 1)[1] if " " in text else text, "Re: " + text]
    return rng.choice(variants)


def date_text(rng: random.Random) -> str:
    """A creation time in 2024, written in one of the formats different export tools use."""
    when = datetime(2024, 1, 1) + timedelta(minutes=rng.randrange(0, 300 * 24 * 60))
    return when.strftime(rng.choice(DATE_FORMATS))


def build(rng: random.Random) -> list[dict]:
    """All rows, messy, shuffled, with ticket ids in arrival order."""
    labels = [label for label, n in CLASS_SIZES.items() for _ in range(n - len(ONE_OFFS[label]))]
    rows = [{"text": ticket_text(label, rng), "label": label, "product": rng.choice(FILL["product"])}
            for label in labels]
    rows += [{"text": " ".join(p for p in (rng.choice(OPENERS), text, rng.choice(CLOSINGS)) if p), "label": label,
              "product": rng.choice(FILL["product"])} for label, texts in ONE_OFFS.items() for text in texts]
    for row in rows:
        if rng.random() < 0.14:
            row["text"] = add_typos(row["text"], rng)
        row["text"] = messy_format(row["text"], rng)
    others = lambda label: [x for x in CLASS_SIZES if x != label]  # noqa: E731
    for row in rng.sample(rows, N_MISLABELLED):  # wrong labels with no twin to give them away
        row["label"] = rng.choice(others(row["label"]))
    extra = []
    for row in rng.sample(rows, N_NEAR_DUPLICATES):
        extra.append({**row, "text": near_duplicate(row["text"].strip(), rng)})
    for row in rng.sample(rows, N_CONFLICTING):  # re-submitted, and routed differently the second time
        extra.append({**row, "text": near_duplicate(row["text"].strip(), rng), "label": rng.choice(others(row["label"]))})
    extra += [{"text": junk, "label": rng.choice(list(CLASS_SIZES)), "product": rng.choice(FILL["product"])}
              for junk in rng.sample(JUNK, N_JUNK)]
    rows += extra
    rng.shuffle(rows)
    out = []
    for i, row in enumerate(rows):
        out.append({"ticket_id": f"T{10001 + i}", "created_at": date_text(rng), "channel": rng.choice(CHANNELS),
                    "product": row["product"], "text": row["text"], "label": rng.choice(LABEL_SPELLINGS[row["label"]])})
    for row in rng.sample(out, N_EXACT_DUPLICATES):  # the same ticket exported twice: every column identical
        out.insert(rng.randrange(len(out)), dict(row))
    return out


# ---------------------------------------------------------------- the raw export a student collects from

# Each export tool names the table's columns its own way (tool -> {its field: the table's column}).
RAW_FIELDS = {
    "helpdesk": {"ticket_id": "ticket_id", "created_at": "created_at", "channel": "channel", "product": "product",
                 "body": "text", "team": "label"},
    "chat": {"conversation_id": "ticket_id", "started_at": "created_at", "channel": "channel",
             "product": "product", "first_message": "text", "queue": "label"},
    "webform": {"id": "ticket_id", "submitted": "created_at", "channel": "channel", "form_product": "product",
                "description": "text", "category": "label"},
}
N_UNLABELLED = 12  # messages nobody routed: the labelling pass decides them


def tool_for(channel: str) -> str:
    """The export tool a message came through: chats from the chat tool, forms from the form, the rest the desk."""
    channel = channel.strip().lower().replace(" ", "")
    return {"chat": "chat", "webform": "webform"}.get(channel, "helpdesk")


def raw_record(row: dict) -> dict:
    """One table row as its export tool wrote it: the tool's own field names, in the tool's own order."""
    tool = tool_for(row["channel"])
    return {"tool": tool, **{field: row[column] for field, column in RAW_FIELDS[tool].items()}}


def raw_messages(rows: list[dict], rng: random.Random) -> list[dict]:
    """Every labelled row as a raw record, and N_UNLABELLED new messages with an empty label, mixed in."""
    records = [raw_record(row) for row in rows]
    labels = list(CLASS_SIZES)
    for i in range(N_UNLABELLED):
        row = {"ticket_id": f"T{20001 + i}", "created_at": date_text(rng), "channel": rng.choice(CHANNELS),
               "product": rng.choice(FILL["product"]), "text": ticket_text(labels[i % len(labels)], rng),
               "label": ""}
        records.insert(rng.randrange(len(records)), raw_record(row))
    return records


def domain_entry(rows: list[dict], records: list[dict]) -> dict:
    """What notebook 10 needs to know about this domain, with the numbers its check cells compare with."""
    labelled = [r for r in records if any(r.get(f) for f, c in RAW_FIELDS[r["tool"]].items() if c == "label")]
    unique = list({tuple(r[c] for c in FIELDS): r for r in rows}.values())
    return {
        "title": "Brightdesk customer-support tickets",
        "task": "route each ticket to the team that answers it",
        "entry": "ticket",
        "raw_file": RAW_OUT.name,
        "raw_fields": RAW_FIELDS,
        "labels": list(CLASS_SIZES),
        "channel_aliases": {"webform": "web form"},
        "typo_map": {typo: word for word, typo in TYPOS.items()},
        "model_dir": "ticket-router",
        "license": "course-written, CC BY 4.0",
        "reference": {"collected": len(records), "labelled": len(labelled), "unlabelled": len(records) - len(labelled),
                      "exact_duplicates": len(rows) - len(unique), "after_exact_duplicates": len(unique),
                      "ids_after_exact_duplicates": digest(r["ticket_id"] for r in unique)},
    }


# ---------------------------------------------------------------- a second, smaller domain

# Messages to a fictional GP practice, "Riverside Clinic", to triage: urgent (a clinician today), routine (a
# clinician, not today) or admin (reception). Short, original, and messy in the same ways as the tickets.
CLINIC_SIZES = {"routine": 120, "admin": 80, "urgent": 50}  # imbalanced on purpose
CLINIC_FILL = {"symptom": ["a rash", "a cough", "back pain", "headaches", "a sore throat", "an earache",
                           "knee pain", "trouble sleeping", "heartburn", "a stiff neck"],
               "days": ["two days", "a week", "three weeks", "since Monday", "a month"],
               "med": ["my inhaler", "my blood pressure tablets", "the cream", "my antibiotics", "my insulin"],
               "day": ["Monday", "Tuesday", "Thursday", "Friday"], "who": ["my son", "my mother", "my husband", "I"],
               "age": [str(n) for n in range(2, 90, 3)], "name": ["Ana", "Tom", "Li", "Omar", "Grace", "Ravi", "Eve"],
               "phone": [f"07{n:03d} {m:03d}" for n, m in ((123, 456), (907, 311), (555, 120), (842, 678))]}
CLINIC_CONTEXT = ["I am {age} and", "My GP is Dr {name} and", "{who} is {age} years old and", "Writing for {name}:",
                  "Since {days} ago", "I saw the nurse last {day} and", "", "", ""]
CLINIC_DETAILS = ["My number is {phone}.", "I can come in any morning.", "I work until 5 on weekdays.",
                  "My date of birth is on file.", "{name} can translate if needed.", "I have no allergies.",
                  "I already called on {day}.", "", ""]
CLINIC_INTENTS = {
    "urgent": ["{who} has chest pain that spreads to the arm and started an hour ago.",
               "{who} cannot breathe properly even after using {med}.",
               "my baby has a high fever and will not wake up properly.",
               "{who} fainted this morning and still feels confused.",
               "the wound from my operation is red, hot and leaking since last night.",
               "{who} has a sudden very bad headache, the worst ever, and blurred vision.",
               "I took twice the dose of {med} by mistake and feel very dizzy.",
               "{who} has swelling of the lips and tongue after a bee sting.",
               "one side of my face dropped and my speech is slurred."],
    "routine": ["I have had {symptom} for {days} and would like to see a doctor.",
                "can a nurse look at {symptom}? It is not getting better after {days}.",
                "{who} needs a review of {med}, the last one was a year ago.",
                "I would like a blood test to check my cholesterol.",
                "{symptom} keeps coming back every few weeks, could someone advise?",
                "I need a repeat prescription for {med}.",
                "is it time for my annual asthma check?",
                "{who} would like advice about stopping smoking."],
    "admin": ["please change my appointment on {day} to the following week.",
              "I have moved house and need to update my address.",
              "can you send me a copy of my vaccination record?",
              "I need a sick note for my employer for last week.",
              "how do I register my newborn with the practice?",
              "please cancel my appointment on {day}, I am feeling better.",
              "what time does the reception open on {day}?",
              "I need a letter confirming my registration for the housing office."],
}
CLINIC_OPENERS = ["Hello,", "Hi,", "Dear doctor,", "Good morning,", "", "", ""]
CLINIC_CLOSINGS = ["Thank you.", "Thanks", "Kind regards", "", "", "Please call me back."]
CLINIC_TYPOS = {"appointment": "appointmnet", "prescription": "perscription", "the": "teh", "doctor": "docter",
                "because": "becuase", "address": "adress", "breathe": "breath", "until": "untill"}
CLINIC_JUNK = ["", "test", "?", "ok", "Sent from my iPhone", "....", "hello"]
CLINIC_CHANNELS = ["portal", "Portal", "sms", "SMS", "email", "Email "]
CLINIC_TOOLS = {"portal": "webform", "sms": "chat", "email": "helpdesk"}


def clinic_text(label: str, rng: random.Random) -> str:
    intent = rng.choice(CLINIC_INTENTS[label]).format(**{k: rng.choice(v) for k, v in CLINIC_FILL.items()})
    fill = {k: rng.choice(v) for k, v in CLINIC_FILL.items()}
    context = rng.choice(CLINIC_CONTEXT).format(**fill)
    sentence = f"{context} {intent}" if context else intent[0].upper() + intent[1:]
    parts = [rng.choice(CLINIC_OPENERS), sentence, rng.choice(CLINIC_DETAILS).format(**fill),
             rng.choice(CLINIC_CLOSINGS)]
    text = " ".join(p for p in parts if p)
    if rng.random() < 0.2:
        words = text.split(" ")
        spots = [i for i, w in enumerate(words) if w.lower().strip(".,?!") in CLINIC_TYPOS]
        for i in rng.sample(spots, min(len(spots), 1)):
            core = words[i].strip(".,?!")
            words[i] = words[i].replace(core, CLINIC_TYPOS[core.lower()])
        text = " ".join(words)
    roll = rng.random()
    return text.upper() if roll < 0.05 else text.lower() if roll < 0.15 else ("  " + text) if roll < 0.2 else text


def build_clinic(rng: random.Random) -> list[dict]:
    """The clinic's raw messages: 250 written (4 mislabelled), 8 re-sent, 7 junk, 6 unlabelled, 10 exported twice."""
    rows = [{"text": clinic_text(label, rng), "label": label} for label, n in CLINIC_SIZES.items() for _ in range(n)]
    for row in rng.sample(rows, 4):  # wrong labels
        row["label"] = rng.choice([x for x in CLINIC_SIZES if x != row["label"]])
    rows += [{**row, "text": "Re: " + row["text"]} for row in rng.sample(rows, 8)]
    rows += [{"text": junk, "label": rng.choice(list(CLINIC_SIZES))} for junk in CLINIC_JUNK]
    rows += [{"text": clinic_text(rng.choice(list(CLINIC_SIZES)), rng), "label": ""} for _ in range(6)]
    rng.shuffle(rows)
    spellings = {label: [label, label.title(), label.upper(), label + " "] for label in CLINIC_SIZES}
    table = [{"ticket_id": f"M{501 + i}", "created_at": date_text(rng), "channel": rng.choice(CLINIC_CHANNELS),
              "product": rng.choice(["GP", "nurse", "pharmacy", "reception"]), "text": row["text"],
              "label": rng.choice(spellings[row["label"]]) if row["label"] else ""} for i, row in enumerate(rows)]
    for row in rng.sample([r for r in table if r["label"]], 10):  # exported twice
        table.insert(rng.randrange(len(table)), dict(row))
    return [{"tool": (tool := CLINIC_TOOLS[r["channel"].strip().lower()]),
             **{field: r[column] for field, column in RAW_FIELDS[tool].items()}} for r in table]


def clinic_entry(records: list[dict]) -> dict:
    rows = [{column: r[field] for field, column in RAW_FIELDS[r["tool"]].items()} for r in records]
    labelled = [r for r in rows if r["label"]]
    unique = list({tuple(r[c] for c in FIELDS): r for r in labelled}.values())
    return {
        "title": "Riverside Clinic patient messages",
        "task": "triage each message: urgent (a clinician today), routine (a clinician, not today) or admin",
        "entry": "message",
        "raw_file": CLINIC_OUT.name,
        "raw_fields": RAW_FIELDS,
        "labels": list(CLINIC_SIZES),
        "channel_aliases": {},
        "typo_map": {typo: word for word, typo in CLINIC_TYPOS.items()},
        "model_dir": "message-triage",
        "license": "course-written, CC BY 4.0",
        "reference": {"collected": len(records), "labelled": len(labelled), "unlabelled": len(rows) - len(labelled),
                      "exact_duplicates": len(labelled) - len(unique), "after_exact_duplicates": len(unique),
                      "ids_after_exact_duplicates": digest(r["ticket_id"] for r in unique)},
    }


def digest(values) -> str:
    """A short fingerprint of a set of strings (order does not matter): what a check cell compares."""
    import hashlib

    return hashlib.sha256("\n".join(sorted(values)).encode()).hexdigest()[:16]


def main() -> None:
    rows = build(random.Random(SEED))
    records = raw_messages(rows, random.Random(SEED + 1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    RAW_OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    clinic = build_clinic(random.Random(SEED + 2))
    CLINIC_OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in clinic), encoding="utf-8")
    domains = {"support_tickets": domain_entry(rows, records), "clinic_messages": clinic_entry(clinic)}
    DOMAINS_OUT.write_text(json.dumps(domains, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(rows)} rows to {OUT.relative_to(ROOT)}, {len(records)} raw messages to "
          f"{RAW_OUT.relative_to(ROOT)}, {DOMAINS_OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
