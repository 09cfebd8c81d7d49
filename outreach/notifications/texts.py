"""The words of the mails: templates are written in German, this catalogue translates them.

One template set per kind (`templates/notifications/<kind>.*`) calls `_("German text")`;
English and Czech come from the dictionaries below, keyed by the German text, as
gettext does. A missing entry falls back to German, and a test checks that every
string in the templates has both translations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outreach.languages import language_of

__all__ = ["CATALOGUE", "translator"]


_EN: dict[str, str] = {
    "Bitte bestätigen Sie Ihre E-Mail-Adresse bis %(until)s über diesen Link. Bis "
    "dahin wartet Ihre Anmeldung, ohne Plätze zu halten; nach der Bestätigung erhält "
    "sie freie Plätze, sonst rückt sie nach. Ohne Bestätigung verfällt sie:": (
        "Please confirm your e-mail address by %(until)s with this link. Until then your "
        "registration waits without holding places; once confirmed it gets free places, "
        "or moves up as places become free. Without confirmation it lapses:"
    ),
    "Bitte bestätigen Sie Ihre E-Mail-Adresse bis %(until)s über diesen Link. Bis "
    "dahin halten wir die Plätze für Sie frei; ohne Bestätigung verfällt die "
    "Anmeldung und die Plätze werden wieder frei:": (
        "Please confirm your e-mail address by %(until)s with this link. Until then we "
        "hold the places for you; without confirmation the registration lapses and the "
        "places are freed:"
    ),
    "Ihre Anmeldung für „%(title)s“ ist verfallen, weil die E-Mail-Adresse nicht "
    "rechtzeitig bestätigt wurde. Die Plätze sind wieder frei; Sie können sich gern "
    "erneut anmelden.": (
        "Your registration for “%(title)s” has lapsed because the e-mail address was not "
        "confirmed in time. The places are free again; you are welcome to register again."
    ),
    "Guten Tag %(name)s,": "Dear %(name)s,",
    "Guten Tag,": "Hello,",
    "Veranstaltung": "Event",
    "Gastgeber": "Host",
    "Termin": "Date",
    "Ort": "Place",
    "Klasse": "Class",
    "Klassenstufe": "Grade",
    "Personen": "Persons",
    "Ihre Buchung": "Your booking",
    "Zur Buchung": "Open the booking",
    "Andere Termine": "Other dates",
    "Begründung": "Reason",
    "Bisher": "Before",
    "Neu": "Now",
    "Kontakt": "Contact",
    "Hinweis der buchenden Person": "Note from the booker",
    "Schülerinnen und Schüler": "Pupils",
    "Begleitpersonen": "Accompanying adults",
    "Mit freundlichen Grüßen": "Kind regards",
    "Ihr Unternehmensnetzwerk Glashütte": "The Glashütte business network",
    "Diese E-Mail wurde automatisch versandt.": "This e-mail was sent automatically.",
    "Die Kalendereinladung in dieser E-Mail trägt den Termin in Ihren Kalender ein.": (
        "The calendar invitation in this e-mail puts the date into your calendar."
    ),
    "Die Kalenderabsage in dieser E-Mail entfernt den Termin aus Ihrem Kalender.": (
        "The calendar cancellation in this e-mail removes the date from your calendar."
    ),
    # Subjects
    "Buchung eingegangen": "Booking received",
    "Buchung bestätigt": "Booking confirmed",
    "Buchung abgelehnt": "Booking declined",
    "Warteliste": "Waiting list",
    "Platz frei": "A place is free",
    "Veranstaltung geändert": "Event changed",
    "Buchung storniert": "Booking cancelled",
    "Termin verschoben": "Date changed",
    "Veranstaltung abgesagt": "Event cancelled",
    "Erinnerung": "Reminder",
    "Neue Buchung": "New booking",
    # Bodies
    "wir haben Ihre Buchung für „%(title)s“ erhalten.": (
        "We have received your booking for “%(title)s”."
    ),
    "%(host)s prüft die Anfrage. Sobald sie bestätigt ist, erhalten Sie eine weitere "
    "E-Mail mit einer Kalendereinladung.": (
        "%(host)s is reviewing the request. Once it is confirmed, you will receive another "
        "e-mail with a calendar invitation."
    ),
    "Ihre Buchung für „%(title)s“ ist bestätigt. %(host)s freut sich auf Ihren Besuch.": (
        "Your booking for “%(title)s” is confirmed. %(host)s looks forward to your visit."
    ),
    "leider kann %(host)s Ihre Buchung für „%(title)s“ nicht annehmen.": (
        "Unfortunately %(host)s cannot accept your booking for “%(title)s”."
    ),
    "„%(title)s“ ist zum gewünschten Termin ausgebucht. Ihre Buchung steht auf der Warteliste.": (
        "“%(title)s” is fully booked at the requested time. Your booking is on the waiting list."
    ),
    "Wird ein Platz frei, rückt sie automatisch nach und Sie erhalten eine E-Mail.": (
        "If a place becomes free, it moves up automatically and you will receive an e-mail."
    ),
    "gute Nachricht: Ein Platz ist frei geworden. Ihre Buchung für „%(title)s“ ist von der "
    "Warteliste nachgerückt und bestätigt.": (
        "Good news: a place has become free. Your booking for “%(title)s” has moved up from "
        "the waiting list and is confirmed."
    ),
    "%(host)s hat Ihre Buchung für „%(title)s“ leider storniert.": (
        "Unfortunately %(host)s has cancelled your booking for “%(title)s”."
    ),
    "Ihre Buchung für „%(title)s“ ist wie gewünscht storniert.": (
        "Your booking for “%(title)s” has been cancelled as requested."
    ),
    "der Termin Ihrer Buchung für „%(title)s“ hat sich geändert.": (
        "The date of your booking for “%(title)s” has changed."
    ),
    "Passt der neue Termin nicht, stornieren Sie die Buchung bitte, damit andere den Platz "
    "bekommen.": (
        "If the new date does not suit you, please cancel the booking so that others can "
        "have the place."
    ),
    "„%(title)s“ ist abgesagt. Ihre Buchung entfällt.": (
        "“%(title)s” has been cancelled. Your booking no longer applies."
    ),
    "Wir bitten um Entschuldigung.": "We apologise for the inconvenience.",
    "zur Erinnerung: Ihr Besuch bei %(host)s ist heute.": (
        "A reminder: your visit to %(host)s is today."
    ),
    "zur Erinnerung: Ihr Besuch bei %(host)s ist morgen.": (
        "A reminder: your visit to %(host)s is tomorrow."
    ),
    "zur Erinnerung: Ihr Besuch bei %(host)s ist in %(days)s Tagen.": (
        "A reminder: your visit to %(host)s is in %(days)s days."
    ),
    "Findet er wie geplant statt? Bitte bestätigen Sie kurz oder sagen Sie ab, damit sich "
    "%(host)s darauf einstellen kann:": (
        "Is it going ahead as planned? Please confirm briefly or cancel, so that %(host)s "
        "can prepare:"
    ),
    "Besuch bestätigen oder absagen": "Confirm or cancel the visit",
    "für „%(title)s“ ist eine neue Buchung eingegangen.": (
        "A new booking has arrived for “%(title)s”."
    ),
    "Bitte bestätigen Sie sie oder lehnen Sie sie ab.": "Please confirm or decline it.",
    "Sie steht auf der Warteliste.": "It is on the waiting list.",
    "Sie ist bestätigt.": "It is confirmed.",
    "gute Nachricht: Ein Platz ist frei geworden. Ihre Buchung für „%(title)s“ ist von der "
    "Warteliste nachgerückt.": (
        "Good news: a place has become free. Your booking for “%(title)s” has moved up from "
        "the waiting list."
    ),
    "die Angaben zu „%(title)s“ haben sich geändert. Unten stehen die aktuellen Angaben.": (
        "The details of “%(title)s” have changed. The current details are below."
    ),
    "eine Buchung für „%(title)s“ wurde storniert. Die Plätze sind wieder frei.": (
        "A booking for “%(title)s” has been cancelled. Its places are free again."
    ),
    "Dieser Besuch war Teil des Firmentags der Klasse %(label)s am %(day)s.": (
        "This visit was part of the class day of %(label)s on %(day)s."
    ),
    "Diese Besuche des Tages bleiben gebucht:": "These visits of the day stay booked:",
    "Ersatz für diesen Besuch finden und mit einem Klick buchen": (
        "Find a replacement for this visit and book it in one click"
    ),
    "Kein Besuch dieses Tages findet mehr statt.": "No visit of this day takes place any more.",
    "Ihr Firmentag": "Your class day",
    # Attendance reminder to the host
    "Teilnahme eintragen": "Record attendance",
    "Teilnehmerliste": "Attendee list",
    "„%(title)s“ ist vorbei; wer gekommen ist, steht noch nicht fest.": (
        "“%(title)s” is over, but who came to this date has not been recorded yet."
    ),
    "Bitte tragen Sie in der Teilnehmerliste ein, wie viele Personen je Buchung da waren (0, wenn niemand kam). Der Jahresbericht des Netzwerks zählt nur eingetragene Teilnahmen.": (  # noqa: E501
        "Please record on the attendee list how many persons of each booking came (0 if "
        "nobody came). The network's annual report counts recorded attendance only."
    ),
}

_CS: dict[str, str] = {
    "Bitte bestätigen Sie Ihre E-Mail-Adresse bis %(until)s über diesen Link. Bis "
    "dahin wartet Ihre Anmeldung, ohne Plätze zu halten; nach der Bestätigung erhält "
    "sie freie Plätze, sonst rückt sie nach. Ohne Bestätigung verfällt sie:": (
        "Potvrďte prosím svou e-mailovou adresu do %(until)s pomocí tohoto odkazu. Do té "
        "doby vaše přihláška čeká a nedrží žádná místa; po potvrzení dostane volná místa, "
        "jinak postoupí, jakmile se místa uvolní. Bez potvrzení propadne:"
    ),
    "Bitte bestätigen Sie Ihre E-Mail-Adresse bis %(until)s über diesen Link. Bis "
    "dahin halten wir die Plätze für Sie frei; ohne Bestätigung verfällt die "
    "Anmeldung und die Plätze werden wieder frei:": (
        "Potvrďte prosím svou e-mailovou adresu do %(until)s pomocí tohoto odkazu. Do té "
        "doby pro vás místa držíme; bez potvrzení přihláška propadne a místa se uvolní:"
    ),
    "Ihre Anmeldung für „%(title)s“ ist verfallen, weil die E-Mail-Adresse nicht "
    "rechtzeitig bestätigt wurde. Die Plätze sind wieder frei; Sie können sich gern "
    "erneut anmelden.": (
        "Vaše přihláška na akci „%(title)s“ propadla, protože e-mailová adresa nebyla "
        "včas potvrzena. Místa jsou opět volná; můžete se klidně přihlásit znovu."
    ),
    "Guten Tag %(name)s,": "Dobrý den, %(name)s,",
    "Guten Tag,": "Dobrý den,",
    "Veranstaltung": "Akce",
    "Gastgeber": "Pořadatel",
    "Termin": "Termín",
    "Ort": "Místo",
    "Klasse": "Třída",
    "Klassenstufe": "Ročník",
    "Personen": "Počet osob",
    "Ihre Buchung": "Vaše rezervace",
    "Zur Buchung": "Otevřít rezervaci",
    "Andere Termine": "Další termíny",
    "Begründung": "Důvod",
    "Bisher": "Dříve",
    "Neu": "Nově",
    "Kontakt": "Kontakt",
    "Hinweis der buchenden Person": "Poznámka od rezervujícího",
    "Schülerinnen und Schüler": "Žáci",
    "Begleitpersonen": "Doprovod",
    "Mit freundlichen Grüßen": "S pozdravem",
    "Ihr Unternehmensnetzwerk Glashütte": "Síť firem Glashütte",
    "Diese E-Mail wurde automatisch versandt.": "Tento e-mail byl odeslán automaticky.",
    "Die Kalendereinladung in dieser E-Mail trägt den Termin in Ihren Kalender ein.": (
        "Pozvánka v tomto e-mailu zapíše termín do vašeho kalendáře."
    ),
    "Die Kalenderabsage in dieser E-Mail entfernt den Termin aus Ihrem Kalender.": (
        "Zrušení v tomto e-mailu odstraní termín z vašeho kalendáře."
    ),
    # Subjects
    "Buchung eingegangen": "Rezervace přijata",
    "Buchung bestätigt": "Rezervace potvrzena",
    "Buchung abgelehnt": "Rezervace zamítnuta",
    "Warteliste": "Pořadník",
    "Platz frei": "Uvolnilo se místo",
    "Veranstaltung geändert": "Akce změněna",
    "Buchung storniert": "Rezervace zrušena",
    "Termin verschoben": "Termín změněn",
    "Veranstaltung abgesagt": "Akce zrušena",
    "Erinnerung": "Připomenutí",
    "Neue Buchung": "Nová rezervace",
    # Bodies (after a salutation with a comma, Czech continues in lower case)
    "wir haben Ihre Buchung für „%(title)s“ erhalten.": (
        "přijali jsme vaši rezervaci na akci „%(title)s“."
    ),
    "%(host)s prüft die Anfrage. Sobald sie bestätigt ist, erhalten Sie eine weitere "
    "E-Mail mit einer Kalendereinladung.": (
        "%(host)s žádost posoudí. Jakmile bude potvrzena, obdržíte další e-mail "
        "s pozvánkou do kalendáře."
    ),
    "Ihre Buchung für „%(title)s“ ist bestätigt. %(host)s freut sich auf Ihren Besuch.": (
        "vaše rezervace na akci „%(title)s“ je potvrzena. %(host)s se těší na vaši návštěvu."
    ),
    "leider kann %(host)s Ihre Buchung für „%(title)s“ nicht annehmen.": (
        "%(host)s bohužel nemůže vaši rezervaci na akci „%(title)s“ přijmout."
    ),
    "„%(title)s“ ist zum gewünschten Termin ausgebucht. Ihre Buchung steht auf der Warteliste.": (
        "akce „%(title)s“ je v požadovaném termínu obsazena. Vaše rezervace je v pořadníku."
    ),
    "Wird ein Platz frei, rückt sie automatisch nach und Sie erhalten eine E-Mail.": (
        "Jakmile se uvolní místo, postoupí automaticky a obdržíte e-mail."
    ),
    "gute Nachricht: Ein Platz ist frei geworden. Ihre Buchung für „%(title)s“ ist von der "
    "Warteliste nachgerückt und bestätigt.": (
        "máme dobrou zprávu: uvolnilo se místo. Vaše rezervace na akci „%(title)s“ postoupila "
        "z pořadníku a je potvrzena."
    ),
    "%(host)s hat Ihre Buchung für „%(title)s“ leider storniert.": (
        "%(host)s bohužel zrušil vaši rezervaci na akci „%(title)s“."
    ),
    "Ihre Buchung für „%(title)s“ ist wie gewünscht storniert.": (
        "vaše rezervace na akci „%(title)s“ byla podle vašeho přání zrušena."
    ),
    "der Termin Ihrer Buchung für „%(title)s“ hat sich geändert.": (
        "termín vaší rezervace na akci „%(title)s“ se změnil."
    ),
    "Passt der neue Termin nicht, stornieren Sie die Buchung bitte, damit andere den Platz "
    "bekommen.": (
        "Pokud vám nový termín nevyhovuje, zrušte prosím rezervaci, aby místo mohli dostat jiní."
    ),
    "„%(title)s“ ist abgesagt. Ihre Buchung entfällt.": (
        "akce „%(title)s“ byla zrušena. Vaše rezervace tím odpadá."
    ),
    "Wir bitten um Entschuldigung.": "Omlouváme se za komplikace.",
    "zur Erinnerung: Ihr Besuch bei %(host)s ist heute.": (
        "připomínáme, že vaše návštěva u %(host)s je dnes."
    ),
    "zur Erinnerung: Ihr Besuch bei %(host)s ist morgen.": (
        "připomínáme, že vaše návštěva u %(host)s je zítra."
    ),
    "zur Erinnerung: Ihr Besuch bei %(host)s ist in %(days)s Tagen.": (
        "připomínáme, že vaše návštěva u %(host)s je za %(days)s dní."
    ),
    "Findet er wie geplant statt? Bitte bestätigen Sie kurz oder sagen Sie ab, damit sich "
    "%(host)s darauf einstellen kann:": (
        "Uskuteční se podle plánu? Krátce ji prosím potvrďte, nebo zrušte, aby se %(host)s "
        "mohl připravit:"
    ),
    "Besuch bestätigen oder absagen": "Potvrdit nebo zrušit návštěvu",
    "für „%(title)s“ ist eine neue Buchung eingegangen.": (
        "na akci „%(title)s“ přišla nová rezervace."
    ),
    "Bitte bestätigen Sie sie oder lehnen Sie sie ab.": "Potvrďte ji prosím, nebo ji zamítněte.",
    "Sie steht auf der Warteliste.": "Je v pořadníku.",
    "Sie ist bestätigt.": "Je potvrzena.",
    "gute Nachricht: Ein Platz ist frei geworden. Ihre Buchung für „%(title)s“ ist von der "
    "Warteliste nachgerückt.": (
        "máme dobrou zprávu: uvolnilo se místo. Vaše rezervace na akci „%(title)s“ postoupila "
        "z pořadníku."
    ),
    "die Angaben zu „%(title)s“ haben sich geändert. Unten stehen die aktuellen Angaben.": (
        "údaje o akci „%(title)s“ se změnily. Aktuální údaje najdete níže."
    ),
    "eine Buchung für „%(title)s“ wurde storniert. Die Plätze sind wieder frei.": (
        "rezervace na akci „%(title)s“ byla zrušena. Místa jsou opět volná."
    ),
    "Dieser Besuch war Teil des Firmentags der Klasse %(label)s am %(day)s.": (
        "Tato návštěva byla součástí dne ve firmách třídy %(label)s, %(day)s."
    ),
    "Diese Besuche des Tages bleiben gebucht:": "Tyto návštěvy dne zůstávají rezervované:",
    "Ersatz für diesen Besuch finden und mit einem Klick buchen": (
        "Najít náhradu za tuto návštěvu a rezervovat ji jedním kliknutím"
    ),
    "Kein Besuch dieses Tages findet mehr statt.": "Žádná návštěva tohoto dne se již nekoná.",
    "Ihr Firmentag": "Váš den ve firmách",
    # Attendance reminder to the host
    "Teilnahme eintragen": "Zapište účast",
    "Teilnehmerliste": "Seznam účastníků",
    "„%(title)s“ ist vorbei; wer gekommen ist, steht noch nicht fest.": (
        "„%(title)s“ skončila, ale u tohoto termínu ještě není zapsáno, kdo přišel."
    ),
    "Bitte tragen Sie in der Teilnehmerliste ein, wie viele Personen je Buchung da waren (0, wenn niemand kam). Der Jahresbericht des Netzwerks zählt nur eingetragene Teilnahmen.": (  # noqa: E501
        "Zapište prosím do seznamu účastníků, kolik osob z každé rezervace přišlo (0, pokud "
        "nikdo nepřišel). Výroční zpráva sítě počítá jen zapsanou účast."
    ),
}

# Presenter invitations at parents' evenings (outreach.presenters).
_EN.update(
    {
        "Einladung zum Elternabend": "Invitation to a parents' evening",
        "%(school)s lädt %(firm)s ein, sich beim Elternabend „%(title)s“ vorzustellen.": (
            "%(school)s invites %(firm)s to present at the parents' evening “%(title)s”."
        ),
        "Nachricht der Schule": "Message from the school",
        "Bitte sagen Sie zu oder ab.": "Please accept or decline.",
        "Zusagen oder absagen": "Accept or decline",
        "Einladung zurückgezogen": "Invitation withdrawn",
        "%(school)s hat die Einladung an %(firm)s zum Elternabend „%(title)s“ zurückgezogen.": (
            "%(school)s has withdrawn the invitation of %(firm)s to the parents' evening "
            "“%(title)s”."
        ),
        "Ihre Einladungen": "Your invitations",
        "Zusage zum Elternabend": "Accepted for the parents' evening",
        "Absage zum Elternabend": "Declined for the parents' evening",
        "%(firm)s stellt sich beim Elternabend „%(title)s“ vor.": (
            "%(firm)s will present at the parents' evening “%(title)s”."
        ),
        "%(firm)s kann sich beim Elternabend „%(title)s“ leider nicht vorstellen.": (
            "Unfortunately %(firm)s cannot present at the parents' evening “%(title)s”."
        ),
        "Nachricht der Firma": "Message from the firm",
        "Zum Elternabend": "Open the parents' evening",
        "Elternabend abgesagt": "Parents' evening cancelled",
        "%(school)s hat den Elternabend „%(title)s“ abgesagt, zu dem %(firm)s eingeladen war.": (
            "%(school)s has cancelled the parents' evening “%(title)s” to which %(firm)s "
            "was invited."
        ),
    }
)
_CS.update(
    {
        "Einladung zum Elternabend": "Pozvánka na třídní schůzku s rodiči",
        "%(school)s lädt %(firm)s ein, sich beim Elternabend „%(title)s“ vorzustellen.": (
            "%(school)s zve firmu %(firm)s, aby se představila na schůzce s rodiči „%(title)s“."
        ),
        "Nachricht der Schule": "Zpráva od školy",
        "Bitte sagen Sie zu oder ab.": "Prosíme o přijetí, nebo odmítnutí.",
        "Zusagen oder absagen": "Přijmout, nebo odmítnout",
        "Einladung zurückgezogen": "Pozvánka odvolána",
        "%(school)s hat die Einladung an %(firm)s zum Elternabend „%(title)s“ zurückgezogen.": (
            "%(school)s odvolala pozvánku firmy %(firm)s na schůzku s rodiči „%(title)s“."
        ),
        "Ihre Einladungen": "Vaše pozvánky",
        "Zusage zum Elternabend": "Účast na schůzce s rodiči přijata",
        "Absage zum Elternabend": "Účast na schůzce s rodiči odmítnuta",
        "%(firm)s stellt sich beim Elternabend „%(title)s“ vor.": (
            "Firma %(firm)s se představí na schůzce s rodiči „%(title)s“."
        ),
        "%(firm)s kann sich beim Elternabend „%(title)s“ leider nicht vorstellen.": (
            "Firma %(firm)s se bohužel nemůže představit na schůzce s rodiči „%(title)s“."
        ),
        "Nachricht der Firma": "Zpráva od firmy",
        "Zum Elternabend": "Otevřít schůzku s rodiči",
        "Elternabend abgesagt": "Schůzka s rodiči zrušena",
        "%(school)s hat den Elternabend „%(title)s“ abgesagt, zu dem %(firm)s eingeladen war.": (
            "%(school)s zrušila schůzku s rodiči „%(title)s“, na kterou byla pozvána firma "
            "%(firm)s."
        ),
    }
)

# A parents' evening moved or changed: the invited and presenting firms are told.
_EN.update(
    {
        "Elternabend geändert": "Parents' evening changed",
        "%(school)s hat den Elternabend „%(title)s“ geändert, zu dem %(firm)s eingeladen ist. Es gelten die Angaben unten.": (  # noqa: E501
            "%(school)s has changed the parents' evening “%(title)s” to which %(firm)s is "
            "invited. The details below apply."
        ),
    }
)
_CS.update(
    {
        "Elternabend geändert": "Schůzka s rodiči změněna",
        "%(school)s hat den Elternabend „%(title)s“ geändert, zu dem %(firm)s eingeladen ist. Es gelten die Angaben unten.": (  # noqa: E501
            "%(school)s změnila schůzku s rodiči „%(title)s“, na kterou je pozvána firma "
            "%(firm)s. Platí údaje níže."
        ),
    }
)

# The booker changed the number of persons on the booking page (outreach.booking.manage).
_EN.update(
    {
        "Buchung geändert": "Booking changed",
        "die Anzahl der Personen Ihrer Buchung für „%(title)s“ ist geändert: bisher %(old)s, jetzt %(new)s.": (  # noqa: E501
            "The number of persons of your booking for “%(title)s” has changed: %(old)s "
            "before, %(new)s now."
        ),
        "Ihre Buchung steht weiter auf der Warteliste.": (
            "Your booking stays on the waiting list."
        ),
        "eine Buchung für „%(title)s“ wurde geändert: bisher %(old)s Personen, jetzt %(new)s.": (
            "A booking for “%(title)s” has changed: %(old)s persons before, %(new)s now."
        ),
    }
)
_CS.update(
    {
        "Buchung geändert": "Rezervace změněna",
        "die Anzahl der Personen Ihrer Buchung für „%(title)s“ ist geändert: bisher %(old)s, jetzt %(new)s.": (  # noqa: E501
            "počet osob vaší rezervace na akci „%(title)s“ se změnil: dříve %(old)s, nyní %(new)s."
        ),
        "Ihre Buchung steht weiter auf der Warteliste.": "Vaše rezervace zůstává v pořadníku.",
        "eine Buchung für „%(title)s“ wurde geändert: bisher %(old)s Personen, jetzt %(new)s.": (
            "rezervace na akci „%(title)s“ byla změněna: dříve %(old)s osob, nyní %(new)s."
        ),
    }
)

# One mail for a class's day at several firms (outreach.notifications.class_day).
_EN.update(
    {
        "Ihr Firmentag ist bestätigt": "Your class day is confirmed",
        "der Firmentag der Klasse %(label)s am %(day)s ist bestätigt. Hier sind alle Besuche des Tages.": (  # noqa: E501
            "The class day of %(label)s on %(day)s is confirmed. Here are all the visits "
            "of the day."
        ),
        "Die Kalendereinladung in dieser E-Mail trägt jeden bestätigten Besuch des Tages in Ihren Kalender ein. Übernimmt Ihr Kalender nur den ersten, öffnen Sie die angehängten Einladungen der übrigen Besuche.": (  # noqa: E501
            "The calendar invitation in this e-mail puts every confirmed visit of the day "
            "into your calendar. If your calendar takes only the first, open the attached "
            "invitations of the other visits."
        ),
        "bestätigt": "confirmed",
        "wartet auf Antwort der Firma": "awaiting the firm's answer",
        "abgelehnt": "declined",
        "storniert": "cancelled",
    }
)
_CS.update(
    {
        "Ihr Firmentag ist bestätigt": "Váš den ve firmách je potvrzen",
        "der Firmentag der Klasse %(label)s am %(day)s ist bestätigt. Hier sind alle Besuche des Tages.": (  # noqa: E501
            "den ve firmách třídy %(label)s, %(day)s, je potvrzen. Zde jsou všechny návštěvy dne."
        ),
        "Die Kalendereinladung in dieser E-Mail trägt jeden bestätigten Besuch des Tages in Ihren Kalender ein. Übernimmt Ihr Kalender nur den ersten, öffnen Sie die angehängten Einladungen der übrigen Besuche.": (  # noqa: E501
            "Pozvánka v tomto e-mailu zapíše do vašeho kalendáře každou potvrzenou návštěvu "
            "dne. Pokud váš kalendář převezme jen první, otevřete přiložené pozvánky "
            "ostatních návštěv."
        ),
        "bestätigt": "potvrzeno",
        "wartet auf Antwort der Firma": "čeká na odpověď firmy",
        "abgelehnt": "zamítnuto",
        "storniert": "zrušeno",
    }
)

# Internship placements (outreach.internships).
_EN.update(
    {
        "Praktikumsplätze der Klasse %(label)s": "Internship places of class %(label)s",
        "Ihre Praktikantinnen und Praktikanten": "Your interns",
        "Praktikumsplatz storniert": "Internship place cancelled",
        "Praktikumsplatz nachbesetzt": "Internship place filled again",
        "Die Praktikumsplätze der Klasse %(label)s (%(school)s, %(when)s) stehen fest:": (
            "The internship places of class %(label)s (%(school)s, %(when)s) are settled:"
        ),
        "Diese Schülerinnen und Schüler machen ihr Praktikum bei %(firm)s:": (
            "These pupils do their internship at %(firm)s:"
        ),
        "Der Praktikumsplatz von %(name)s (Klasse %(label)s, %(school)s) bei %(firm)s wurde storniert.": (  # noqa: E501
            "The internship place of %(name)s (class %(label)s, %(school)s) at %(firm)s has "
            "been cancelled."
        ),
        "Ein frei gewordener Praktikumsplatz bei %(firm)s geht an %(name)s (Klasse %(label)s, %(school)s).": (  # noqa: E501
            "An internship place at %(firm)s that became free goes to %(name)s (class "
            "%(label)s, %(school)s)."
        ),
        "nicht vermittelt": "not placed",
        "Grund": "Reason",
        "Zur Übersicht": "Open the overview",
    }
)
_CS.update(
    {
        "Praktikumsplätze der Klasse %(label)s": "Místa na praxi třídy %(label)s",
        "Ihre Praktikantinnen und Praktikanten": "Vaši praktikanti",
        "Praktikumsplatz storniert": "Místo na praxi zrušeno",
        "Praktikumsplatz nachbesetzt": "Místo na praxi znovu obsazeno",
        "Die Praktikumsplätze der Klasse %(label)s (%(school)s, %(when)s) stehen fest:": (
            "Místa na praxi třídy %(label)s (%(school)s, %(when)s) jsou rozdělena:"
        ),
        "Diese Schülerinnen und Schüler machen ihr Praktikum bei %(firm)s:": (
            "Tito žáci absolvují praxi ve firmě %(firm)s:"
        ),
        "Der Praktikumsplatz von %(name)s (Klasse %(label)s, %(school)s) bei %(firm)s wurde storniert.": (  # noqa: E501
            "Místo na praxi žáka %(name)s (třída %(label)s, %(school)s) ve firmě %(firm)s "
            "bylo zrušeno."
        ),
        "Ein frei gewordener Praktikumsplatz bei %(firm)s geht an %(name)s (Klasse %(label)s, %(school)s).": (  # noqa: E501
            "Uvolněné místo na praxi ve firmě %(firm)s připadá žákovi %(name)s (třída "
            "%(label)s, %(school)s)."
        ),
        "nicht vermittelt": "neumístěn",
        "Grund": "Důvod",
        "Zur Übersicht": "Otevřít přehled",
    }
)

CATALOGUE: dict[str, dict[str, str]] = {"de": {}, "en": _EN, "cs": _CS}


def translator(language: str) -> Callable[..., str]:
    table = CATALOGUE[language_of(language)]

    def gettext(message: str, **values: Any) -> str:
        text = table.get(message, message)
        return text % values if values else text

    return gettext
