"""A BAS-style chart of accounts: the accounts every generated company uses.

Each entry is (number, name, SRU code, Fortnox VATCode). Names are Swedish as in BAS, so
the SIE export exercises CP437 (å, ä, ö).
"""

from __future__ import annotations

CHART: tuple[tuple[int, str, int, str], ...] = (
    (1220, "Inventarier och verktyg", 7215, ""),
    (1229, "Ackumulerade avskrivningar på inventarier och verktyg", 7215, ""),
    (1460, "Lager av handelsvaror", 7241, ""),
    (1510, "Kundfordringar", 7251, ""),
    (1630, "Avräkning för skatter och avgifter (skattekonto)", 7261, ""),
    (1710, "Förutbetalda hyreskostnader", 7263, ""),
    (1910, "Kassa", 7281, ""),
    (1930, "Företagskonto / checkkonto / affärskonto", 7281, ""),
    (2081, "Aktiekapital", 7301, ""),
    (2091, "Balanserad vinst eller förlust", 7302, ""),
    (2098, "Vinst eller förlust från föregående år", 7302, ""),
    (2099, "Årets resultat", 7302, ""),
    (2350, "Andra långfristiga skulder till kreditinstitut", 7352, ""),
    (2440, "Leverantörsskulder", 7365, ""),
    (2611, "Utgående moms på försäljning inom Sverige, 25 %", 7369, "MP1"),
    (2641, "Debiterad ingående moms", 7369, "I"),
    (2650, "Redovisningskonto för moms", 7369, ""),
    (2710, "Personalskatt", 7369, ""),
    (2731, "Avräkning lagstadgade sociala avgifter", 7369, ""),
    (2920, "Upplupna semesterlöner", 7370, ""),
    (2990, "Övriga upplupna kostnader och förutbetalda intäkter", 7370, ""),
    (3001, "Försäljning inom Sverige, 25 % moms", 7410, "MP1"),
    (3041, "Försäljning tjänster inom Sverige, 25 % moms", 7410, "MP1"),
    (3740, "Öres- och kronutjämning", 7410, ""),
    (4010, "Inköp material och varor", 7511, "I"),
    (5010, "Lokalhyra", 7513, "I"),
    (5410, "Förbrukningsinventarier", 7513, "I"),
    (5460, "Förbrukningsmaterial", 7513, "I"),
    (5611, "Drivmedel för personbilar", 7513, "I"),
    (5800, "Resekostnader", 7513, "I"),
    (6071, "Representation, avdragsgill", 7513, "I"),
    (6110, "Kontorsmateriel", 7513, "I"),
    (6212, "Mobiltelefon", 7513, "I"),
    (6230, "Datakommunikation", 7513, "I"),
    (6540, "IT-tjänster", 7513, "I"),
    (6570, "Bankkostnader", 7513, ""),
    (7010, "Löner till kollektivanställda", 7514, ""),
    (7210, "Löner till tjänstemän", 7514, ""),
    (7510, "Arbetsgivaravgifter 31,42 %", 7515, ""),
    (7832, "Avskrivningar på inventarier och verktyg", 7517, ""),
    (8310, "Ränteintäkter från omsättningstillgångar", 7417, ""),
    (8410, "Räntekostnader för långfristiga skulder", 7522, ""),
    (8910, "Skatt som belastar årets resultat", 7528, ""),
    (8999, "Årets resultat", 7450, ""),
)

#: Accounts whose usage is measured in a unit (quantities on rows); unit per account.
QUANTITY_UNITS: dict[int, str] = {5611: "liter", 4010: "st", 3001: "st", 5800: "km"}

#: Cost and income accounts that can carry cost centres and projects.
RESULT_ACCOUNT_START = 3000

BANK = 1930
RECEIVABLES = 1510
PAYABLES = 2440
OUTPUT_VAT = 2611
INPUT_VAT = 2641
YEAR_RESULT = 2099
YEAR_RESULT_PL = 8999
SALES_ACCOUNTS = (3001, 3041)
COST_ACCOUNTS = (4010, 5010, 5410, 5460, 5611, 5800, 6071, 6110, 6212, 6230, 6540)
MANUAL_ACCOUNTS = (1220, 1630, 1710, 1910, 2350, 2650, 2920, 2990, 6570, 7832, 8310, 8410)
