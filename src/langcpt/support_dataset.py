"""Write the default German SFT dataset: supportive mental-health conversations.

No such dataset exists in a registry we can reach, so it is composed here from hand-written German pieces
(openers, reflections, questions, coping ideas, referrals) with a seeded RNG: the same bytes on every run.

    PYTHONPATH=src python -m langcpt.support_dataset data/sft/support_de.jsonl

Categories: listening, reflecting, coping, boundaries, crisis. Every crisis reply gives the referral of its group
(the conversation's "referral" key; langcpt.safety `safety.referrals`): suicide, self-harm, refusing to eat or drink,
someone else at risk, danger to others, command hallucinations: the Telefonseelsorge (0800 111 0 111 /
0800 111 0 222) and the emergency number 112; poisoning and overdose: 112 and the Giftnotruf (Berlin, 030 19240);
violence (domestic, an acute threat, sexual assault, an elderly person): the police 110 and the Hilfetelefon
116 016; children: 110 and the Nummer gegen Kummer 116 111. The first reply to a crisis message gives its group's
numbers within its first two sentences (a short caring sentence first), so that a model trained on it refers by
itself even in a short greedy reply; crisis conversations are half of the dataset.
"""
from __future__ import annotations

import random
import re
import sys

from langcpt.fileio import write_jsonl

SEED = 1234
DEFAULT_OUT = "data/sft/support_de.jsonl"

SYSTEM_PROMPT = (
    "Du bist ein einfühlsamer Gesprächsbegleiter. Du hörst zu, urteilst nicht und gibst behutsame Anregungen. "
    "Du bist kein Ersatz für eine Therapie, stellst keine Diagnosen und empfiehlst keine Medikamente. Bei "
    "Suizidgedanken oder akuter Gefahr verweist du auf den Notruf 112 und die Telefonseelsorge (0800 111 0 111 "
    "oder 0800 111 0 222)."
)

# How many conversations per category, in output order.
COUNTS = {"listening": 48, "reflecting": 40, "coping": 44, "boundaries": 32, "crisis": 168}
# Number of user turns, cycled per category: 6 of 10 conversations are multi-turn.
TURN_PATTERN = (1, 2, 1, 3, 2, 1, 4, 1, 2, 3)

# --------------------------------------------------------------------------------------------------------------
# Topics. vents: (user message, reflection of exactly that message); details: the same for a second user turn.
# acks fit every vent of the topic; asks are open invitations that every detail can answer. help: requests for
# coping ideas, either a string (any of the topic's skills fits) or (string, [the skills that fit]).

TOPICS = {
    "arbeit": {
        "vents": [
            ("Bei der Arbeit wächst mir gerade alles über den Kopf. Mein Chef gibt mir ständig neue Aufgaben, "
             "und ich komme einfach nicht hinterher.",
             "Es klingt, als würdest du vor einem Berg von Aufgaben stehen, der immer weiter wächst, während du "
             "versuchst, irgendwie Schritt zu halten."),
            ("Ich sitze jeden Abend bis neun im Büro und habe trotzdem das Gefühl, nie fertig zu werden.",
             "Es klingt, als würdest du unglaublich viel geben und trotzdem nie das Gefühl haben, dass es reicht."),
            ("Seit zwei Kollegen gekündigt haben, bleibt alles an mir hängen. Ich kann bald nicht mehr.",
             "Es hört sich an, als müsstest du gerade die Arbeit von mehreren Leuten stemmen und als wärst du "
             "langsam am Ende deiner Kräfte."),
            ("Sonntagabends bekomme ich schon Bauchschmerzen, wenn ich an den Montag denke.",
             "Es klingt, als würde der Druck von der Arbeit schon dein Wochenende überschatten und sich sogar "
             "körperlich bemerkbar machen."),
            ("Mein Chef hat mich heute im Meeting vor allen kritisiert. Ich kann an nichts anderes mehr denken.",
             "Es klingt, als hätte dich diese Situation vor allen anderen tief getroffen und als würde sie dich "
             "seitdem nicht mehr loslassen."),
        ],
        "acks": [
            "Das klingt nach einer großen Belastung bei der Arbeit.",
            "Es ist wirklich anstrengend, wenn einen die Arbeit so sehr beschäftigt, dass man kaum abschalten kann.",
            "Wenn der Job einem so zusetzt, strahlt das oft in alle anderen Lebensbereiche aus.",
        ],
        "asks": [
            "Was setzt dir dabei gerade am meisten zu?",
            "Magst du mir ein bisschen mehr darüber erzählen?",
            "Was geht dir dabei durch den Kopf?",
        ],
        "details": [
            ("Ich habe Angst, dass alle merken, dass ich es nicht schaffe. Deshalb sage ich zu allem Ja.",
             "Es klingt, als würdest du ständig gegen die Angst ankämpfen, nicht zu genügen, und als wäre das "
             "Ja-Sagen dein Weg, dich davor zu schützen."),
            ("Ich bin abends so erschöpft, dass ich nicht mal mehr Lust habe, Freunde zu treffen.",
             "Es hört sich an, als würde die Arbeit gerade all deine Energie aufbrauchen, sodass für die schönen "
             "Dinge kaum etwas übrig bleibt."),
            ("Eigentlich mag ich meinen Job. Aber gerade fühlt es sich an, als würde ich nur noch funktionieren.",
             "Ich höre heraus, dass dir deine Arbeit eigentlich viel bedeutet und es dich traurig macht, dass "
             "gerade nur noch das Funktionieren übrig ist."),
        ],
        "help": [
            ("Was kann ich tun, damit ich nach der Arbeit besser abschalten kann?", ["atmung", "spaziergang", "schreiben"]),
            "Hast du eine Idee, wie ich mit dem ganzen Druck im Job besser umgehen kann?",
            ("Ich bin im Büro oft so angespannt, dass ich kaum klar denken kann. Was könnte mir da helfen?",
             ["atmung", "pause", "aufgaben"]),
        ],
        "skills": ["atmung", "spaziergang", "aufgaben", "pause", "schreiben"],
    },
    "pruefung": {
        "vents": [
            ("Nächste Woche habe ich meine Abschlussprüfung, und ich habe totale Panik. Ich kann mir nichts "
             "mehr merken.",
             "Es klingt, als hätte dich die Angst vor der Prüfung so im Griff, dass sie dir genau das nimmt, was "
             "du gerade am meisten brauchst: einen klaren Kopf."),
            ("Ich bin letztes Semester durch eine Klausur gefallen und habe jetzt riesige Angst, dass es wieder "
             "passiert.",
             "Es hört sich an, als würde die Erfahrung vom letzten Mal noch schwer auf dir lasten und als "
             "hättest du große Angst, dass sie sich wiederholt."),
            ("Sobald ich mich an den Schreibtisch setze, fängt mein Herz an zu rasen, und ich bekomme nichts "
             "mehr in den Kopf.",
             "Es klingt, als würde dein Körper schon beim Gedanken ans Lernen Alarm schlagen, und das macht das "
             "Lernen natürlich noch schwerer."),
            ("Meine Eltern erwarten, dass ich eine Eins schreibe. Wenn ich das nicht schaffe, bin ich eine "
             "Enttäuschung.",
             "Es klingt, als würdest du nicht nur den Druck der Prüfung spüren, sondern auch die Angst, deine "
             "Eltern zu enttäuschen – das ist eine doppelte Last."),
            ("Alle in meinem Kurs scheinen den Stoff locker zu verstehen, nur ich nicht. Ich habe Angst vor der "
             "Prüfung.",
             "Ich höre heraus, dass du dich gerade mit den anderen vergleichst und dabei das Gefühl bekommst, "
             "allein hinterherzuhinken."),
        ],
        "acks": [
            "Prüfungsangst kann unglaublich belastend sein, und du bist damit wirklich nicht allein.",
            "Das klingt nach ganz schön viel Druck rund um diese Prüfung.",
            "Es ist verständlich, dass dich das so beschäftigt, wenn scheinbar so viel davon abhängt.",
        ],
        "asks": [
            "Was macht dir an der Prüfung die meisten Sorgen?",
            "Magst du erzählen, wie es dir gerade beim Lernen geht?",
            "Was geht dir durch den Kopf, wenn du an die Prüfung denkst?",
        ],
        "details": [
            ("Ich lerne den ganzen Tag, aber abends habe ich das Gefühl, gar nichts zu wissen.",
             "Es klingt, als würdest du unheimlich viel investieren und trotzdem das Gefühl haben, mit leeren "
             "Händen dazustehen."),
            ("Ich stelle mir ständig vor, wie ich vor dem leeren Blatt sitze und mir nichts einfällt.",
             "Es hört sich an, als würde dein Kopf immer wieder das schlimmste Szenario durchspielen, und das "
             "macht die Angst jedes Mal größer."),
            ("Wenn ich durchfalle, weiß ich nicht, wie es weitergehen soll.",
             "Ich höre heraus, dass sich diese Prüfung für dich anfühlt, als hinge deine ganze Zukunft daran – "
             "kein Wunder, dass der Druck dann so groß ist."),
        ],
        "help": [
            "Was kann ich gegen meine Prüfungsangst tun?",
            "Wie schaffe ich es, beim Lernen nicht ständig in Panik zu geraten?",
            "Hast du einen Tipp, wie ich vor der Prüfung ruhiger werde?",
        ],
        "skills": ["atmung", "erdung", "aufgaben", "pause", "spaziergang"],
    },
    "einsamkeit": {
        "vents": [
            ("Ich fühle mich so einsam. Am Wochenende rede ich oft mit niemandem ein einziges Wort.",
             "Es klingt, als wären die Wochenenden für dich sehr still und leer und als würdest du dich nach "
             "Nähe und Austausch sehnen."),
            ("Alle meine Freunde haben inzwischen Familie und kaum noch Zeit. Ich fühle mich abgehängt.",
             "Es hört sich an, als hätte sich um dich herum viel verändert und als würdest du dich dabei ein "
             "Stück zurückgelassen fühlen."),
            ("Selbst wenn ich unter Leuten bin, fühle ich mich allein.",
             "Es klingt, als würdest du dich selbst inmitten anderer Menschen nicht wirklich gesehen oder "
             "verbunden fühlen – das ist eine besonders schmerzhafte Art von Einsamkeit."),
            ("Seit ich im Homeoffice arbeite, sehe ich kaum noch Menschen. Mir fällt langsam die Decke auf den "
             "Kopf.",
             "Es klingt, als würde dir der Kontakt zu anderen Menschen gerade sehr fehlen und als würdest du "
             "dich in deinen vier Wänden zunehmend eingeengt fühlen."),
            ("Ich habe niemanden, dem ich schreiben kann, wenn es mir schlecht geht.",
             "Ich höre heraus, dass du dich in schweren Momenten ganz auf dich allein gestellt fühlst."),
        ],
        "acks": [
            "Einsamkeit kann sehr wehtun, auch wenn man sie von außen oft nicht sieht.",
            "Es ist zutiefst menschlich, sich nach Nähe und Verbundenheit zu sehnen.",
            "Sich einsam zu fühlen, ist schmerzhaft, und es sagt nichts über deinen Wert als Mensch aus.",
        ],
        "asks": [
            "Wann spürst du die Einsamkeit am stärksten?",
            "Magst du mir erzählen, wie es dir damit gerade geht?",
            "Was fehlt dir im Moment am meisten?",
        ],
        "details": [
            ("Abends ist es am schlimmsten. Dann ist es so still in der Wohnung.",
             "Es klingt, als würde die Stille am Abend die Einsamkeit besonders spürbar machen."),
            ("Ich traue mich auch nicht, auf andere zuzugehen. Ich habe Angst, dass sie mich komisch finden.",
             "Es hört sich an, als würdest du dir eigentlich Kontakt wünschen, aber die Angst vor Ablehnung "
             "hält dich zurück."),
            ("Ich vermisse es einfach, dass mich jemand fragt, wie mein Tag war.",
             "Ich höre heraus, dass du dich nach ganz alltäglicher Nähe sehnst, nach jemandem, der sich für dich "
             "und deinen Tag interessiert."),
        ],
        "help": [
            "Was kann ich gegen dieses Gefühl von Einsamkeit tun?",
            ("Hast du eine Idee, wie ich wieder mehr Kontakt zu anderen Menschen bekomme?", ["gemeinschaft"]),
            ("Die Abende allein sind so schwer. Wie kann ich sie besser überstehen?",
             ["schreiben", "spaziergang", "gemeinschaft", "selbstmitgefuehl"]),
        ],
        "skills": ["gemeinschaft", "spaziergang", "schreiben", "selbstmitgefuehl"],
        "skip_threads": ["umfeld"],
    },
    "trauer": {
        "vents": [
            ("Meine Mutter ist vor drei Monaten gestorben, und ich komme einfach nicht darüber hinweg.",
             "Es klingt, als würde dich der Verlust deiner Mutter noch jeden Tag begleiten und als hättest du "
             "das Gefühl, eigentlich schon weiter sein zu müssen."),
            ("Mein Hund ist letzte Woche gestorben. Alle sagen, es war doch nur ein Tier, aber für mich war er "
             "Familie.",
             "Es klingt, als hättest du ein echtes Familienmitglied verloren und als würdest du dich mit deiner "
             "Trauer von anderen nicht ernst genommen fühlen."),
            ("Mein bester Freund ist plötzlich gestorben. Ich kann es immer noch nicht glauben.",
             "Es hört sich an, als wäre das alles so plötzlich gekommen, dass ein Teil von dir es noch gar nicht "
             "begreifen kann."),
            ("Es ist jetzt ein Jahr her, dass mein Vater gestorben ist, und heute ist alles wieder ganz frisch.",
             "Es klingt, als würde der Jahrestag den Schmerz wieder ganz nah heranholen, so als wäre es gerade "
             "erst passiert."),
            ("Seit meine Oma tot ist, fühlt sich alles so leer an. Sie war immer für mich da.",
             "Ich höre heraus, wie wichtig deine Oma für dich war und wie groß die Lücke ist, die sie "
             "hinterlassen hat."),
        ],
        "acks": [
            "Es tut mir sehr leid, dass du so einen Verlust erleben musst.",
            "Trauer hat keinen Zeitplan, und jeder Mensch trauert auf seine eigene Weise.",
            "Jemanden zu verlieren, den man liebt, gehört zu den schwersten Erfahrungen überhaupt.",
        ],
        "asks": [
            "Magst du mir ein bisschen erzählen, wie es dir gerade mit der Trauer geht?",
            "Wie geht es dir im Moment damit?",
            "Was beschäftigt dich dabei gerade am meisten?",
        ],
        "details": [
            ("Manchmal greife ich noch zum Handy, um anzurufen, und dann fällt es mir wieder ein.",
             "Es klingt, als würde dich der Verlust in diesen kleinen Alltagsmomenten immer wieder ganz "
             "unvermittelt treffen."),
            ("Ich habe das Gefühl, ich müsste langsam wieder normal funktionieren, aber ich kann nicht.",
             "Es hört sich an, als würdest du dich selbst unter Druck setzen, schneller wieder zu funktionieren, "
             "als deine Trauer es zulässt."),
            ("Ich bin manchmal auch wütend, und dann schäme ich mich dafür.",
             "Ich höre heraus, dass neben der Traurigkeit auch Wut da ist und dass du sie dir eigentlich nicht "
             "erlauben möchtest, obwohl sie ganz natürlich zur Trauer dazugehören kann."),
        ],
        "help": [
            "Wie kann ich mit meiner Trauer umgehen?",
            "Gibt es etwas, das mir hilft, wenn mich die Trauer plötzlich überrollt?",
            "Ich weiß nicht, wohin mit meiner Traurigkeit. Hast du eine Idee?",
        ],
        "skills": ["ritual", "schreiben", "vertrauensperson", "spaziergang", "selbstmitgefuehl"],
    },
    "trennung": {
        "vents": [
            ("Meine Freundin hat nach fünf Jahren Schluss gemacht. Ich weiß gar nicht, wer ich ohne sie bin.",
             "Es klingt, als hätte die Trennung nicht nur eine Beziehung beendet, sondern auch erschüttert, wie "
             "du dich selbst siehst."),
            ("Mein Freund hat mich verlassen, und ich schaue ständig auf sein Profil, obwohl es mir danach "
             "schlechter geht.",
             "Es hört sich an, als würde ein Teil von dir noch festhalten wollen, während ein anderer Teil "
             "spürt, dass dir das gerade nicht guttut."),
            ("Wir haben uns getrennt, und ich frage mich die ganze Zeit, was ich falsch gemacht habe.",
             "Es klingt, als würdest du die Schuld für die Trennung gerade vor allem bei dir suchen, und das "
             "macht den Schmerz noch schwerer."),
            ("Ich habe mich getrennt, weil es nicht mehr ging, aber jetzt vermisse ich ihn trotzdem furchtbar.",
             "Es klingt, als wüsstest du, dass die Entscheidung richtig war, und würdest trotzdem um das "
             "trauern, was ihr hattet – und beides darf nebeneinander da sein."),
            ("Seit der Trennung fühlt sich meine Wohnung so leer an. Überall erinnert mich etwas an sie.",
             "Ich höre heraus, dass dich die Erinnerungen überall umgeben und es kaum einen Ort gibt, an dem du "
             "einmal durchatmen kannst."),
        ],
        "acks": [
            "Eine Trennung kann sich anfühlen, als würde einem der Boden unter den Füßen weggezogen.",
            "Liebeskummer tut richtig weh, und es ist völlig in Ordnung, dass es dir gerade nicht gut geht.",
            "Nach einer Trennung ist es ganz normal, dass die Gefühle erst einmal durcheinandergehen.",
        ],
        "asks": [
            "Was ist im Moment am schwersten für dich?",
            "Magst du mir erzählen, wie es dir seit der Trennung geht?",
            "Was geht dir gerade am häufigsten durch den Kopf?",
        ],
        "details": [
            ("Ich kann nicht aufhören, an die schönen Momente zu denken. Dann frage ich mich, warum es nicht "
             "gereicht hat.",
             "Es klingt, als würden dich die schönen Erinnerungen gleichzeitig trösten und quälen, weil sie die "
             "Frage nach dem Warum immer wieder aufwerfen."),
            ("Alle sagen, ich soll einfach nach vorne schauen. Aber das kann ich noch nicht.",
             "Es hört sich an, als würden dich die gut gemeinten Ratschläge eher unter Druck setzen, weil dein "
             "Herz einfach noch nicht so weit ist."),
            ("Ich habe Angst, dass ich nie wieder jemanden finde.",
             "Ich höre heraus, dass hinter dem Schmerz auch eine große Angst vor dem Alleinbleiben steckt."),
        ],
        "help": [
            "Wie komme ich über meine Trennung hinweg?",
            "Was hilft gegen Liebeskummer?",
            "Ich muss ständig an meinen Ex denken. Was kann ich dagegen tun?",
        ],
        "skills": ["schreiben", "vertrauensperson", "spaziergang", "selbstmitgefuehl", "abstand"],
    },
    "schlaf": {
        "vents": [
            ("Ich liege jede Nacht stundenlang wach und grüble. Morgens bin ich total gerädert.",
             "Es klingt, als würden deine Gedanken nachts einfach keine Ruhe finden und als würde dich das "
             "tagsüber die letzte Kraft kosten."),
            ("Ich wache jede Nacht gegen drei Uhr auf und kann dann nicht mehr einschlafen.",
             "Es hört sich an, als wären diese frühen Morgenstunden für dich zu einer festen, zermürbenden "
             "Wachphase geworden."),
            ("Ich habe Angst vor dem Schlafengehen, weil ich weiß, dass ich sowieso wieder nicht schlafen kann.",
             "Es klingt, als hätte sich das Bett für dich von einem Ort der Erholung in einen Ort der Anspannung "
             "verwandelt."),
            ("Seit Wochen schlafe ich schlecht und bin bei der Arbeit nur noch gereizt.",
             "Es klingt, als würde dir der fehlende Schlaf so zusetzen, dass du dich selbst kaum wiedererkennst."),
            ("Sobald ich das Licht ausmache, geht das Gedankenkarussell los.",
             "Ich höre heraus, dass dein Kopf genau in dem Moment, in dem du zur Ruhe kommen willst, erst "
             "richtig aufdreht."),
        ],
        "acks": [
            "Schlechter Schlaf kann einen wirklich zermürben, weil er alles andere noch schwerer macht.",
            "Wenn die Nächte unruhig sind, fehlt einem tagsüber oft die Kraft für alles andere.",
            "Schlafprobleme sind unglaublich anstrengend, und es ist verständlich, dass du dich nach Erholung "
            "sehnst.",
        ],
        "asks": [
            "Was geht dir nachts meistens durch den Kopf?",
            "Magst du mir erzählen, was dich beschäftigt, wenn du wach liegst?",
            "Magst du mir ein bisschen mehr darüber erzählen?",
        ],
        "details": [
            ("Meistens denke ich an alles, was ich am nächsten Tag erledigen muss.",
             "Es klingt, als würde dein Kopf nachts schon den nächsten Tag abarbeiten, statt sich ausruhen zu "
             "dürfen."),
            ("Ich schaue dann aufs Handy, wie spät es ist, und rechne aus, wie wenig Schlaf mir noch bleibt.",
             "Es hört sich an, als würde das Rechnen die Anspannung noch verstärken, obwohl du eigentlich nur "
             "schlafen möchtest."),
            ("Ich denke über Gespräche nach, die tagsüber schiefgelaufen sind.",
             "Ich höre heraus, dass dich die Erlebnisse des Tages bis in die Nacht begleiten und du sie immer "
             "wieder durchgehst."),
        ],
        "help": [
            "Hast du Tipps, wie ich besser einschlafen kann?",
            "Was kann ich tun, wenn ich nachts wach liege und grüble?",
            "Wie bekomme ich meinen Kopf abends zur Ruhe?",
        ],
        "skills": ["schlafhygiene", "atmung", "schreiben", "erdung"],
        "note": "Wenn die Schlafprobleme länger anhalten, kann es sinnvoll sein, das mit deiner Hausärztin oder "
                "deinem Hausarzt zu besprechen.",
    },
    "familie": {
        "vents": [
            ("Mit meinen Eltern gibt es ständig Streit. Egal was ich mache, es ist nie richtig.",
             "Es klingt, als würdest du dich von deinen Eltern ständig bewertet fühlen, ganz gleich, wie sehr du "
             "dich bemühst."),
            ("Meine Schwester und ich reden seit Monaten nicht mehr miteinander, und das belastet mich sehr.",
             "Es hört sich an, als würde dir deine Schwester sehr fehlen, auch wenn zwischen euch gerade so viel "
             "Schweigen steht."),
            ("Bei uns zu Hause wird nur noch geschrien. Ich halte das kaum noch aus.",
             "Es klingt, als wäre dein Zuhause gerade kein ruhiger Ort, sondern ein Ort voller Anspannung."),
            ("Meine Mutter mischt sich in alles ein, was ich tue. Ich bin 28 und fühle mich wie ein Kind.",
             "Es klingt, als würdest du dir mehr Raum für deine eigenen Entscheidungen wünschen und dich als "
             "erwachsener Mensch nicht ernst genommen fühlen."),
            ("Weihnachten steht vor der Tür, und ich habe jetzt schon Angst vor den Familienstreitereien.",
             "Ich höre heraus, dass das Fest für dich weniger Vorfreude als Anspannung bedeutet, weil du die "
             "Konflikte schon kommen siehst."),
        ],
        "acks": [
            "Konflikte in der Familie gehen oft besonders tief, weil uns diese Menschen so nahestehen.",
            "Das ist belastend, gerade weil Familie eigentlich ein Ort sein sollte, an dem man sich aufgehoben "
            "fühlt.",
            "Spannungen in der Familie können einen sehr mitnehmen, auch wenn man versucht, sie auszublenden.",
        ],
        "asks": [
            "Was belastet dich daran am meisten?",
            "Magst du mir mehr darüber erzählen, wie es dir damit geht?",
            "Was geht in dir vor, wenn du daran denkst?",
        ],
        "details": [
            ("Ich würde mir einfach wünschen, dass sie mich einmal so akzeptieren, wie ich bin.",
             "Es klingt, als würdest du dich tief danach sehnen, von deiner Familie angenommen zu werden, ohne "
             "dich verbiegen zu müssen."),
            ("Ich fühle mich schuldig, weil ich manchmal gar keinen Kontakt mehr will.",
             "Es hört sich an, als wärst du zwischen dem Wunsch nach Abstand und einem schlechten Gewissen "
             "hin- und hergerissen."),
            ("Nach jedem Streit fühle ich mich tagelang wie gelähmt.",
             "Ich höre heraus, dass dich diese Streits nicht nur im Moment treffen, sondern noch lange nachwirken "
             "und dir viel Kraft rauben."),
        ],
        "help": [
            ("Wie kann ich in Streitsituationen mit meiner Familie ruhiger bleiben?", ["atmung", "ich_botschaft", "pause"]),
            "Was kann ich tun, damit mich die Konflikte zu Hause nicht so runterziehen?",
            ("Hast du eine Idee, wie ich nach einem Familienstreit wieder runterkomme?",
             ["atmung", "spaziergang", "schreiben"]),
        ],
        "skills": ["atmung", "ich_botschaft", "spaziergang", "schreiben", "pause"],
    },
    "ueberforderung": {
        "vents": [
            ("Ich habe das Gefühl, alles gleichzeitig schaffen zu müssen: Job, Haushalt, Kinder. Ich bin einfach "
             "nur noch müde.",
             "Es klingt, als würdest du gerade an ganz vielen Fronten gleichzeitig stehen und als wäre von deiner "
             "Kraft kaum noch etwas übrig."),
            ("Meine To-do-Liste wird jeden Tag länger, und ich weiß gar nicht mehr, wo ich anfangen soll.",
             "Es hört sich an, als würde dich die schiere Menge lähmen, sodass schon der Anfang wie ein riesiger "
             "Berg wirkt."),
            ("Mir ist gerade alles zu viel. Ich könnte die ganze Zeit nur heulen.",
             "Es klingt, als wäre das Fass gerade randvoll und als würden die Tränen zeigen, wie viel du in "
             "letzter Zeit getragen hast."),
            ("Ich pflege nebenbei meinen kranken Vater und habe keine Minute mehr für mich.",
             "Es klingt, als würdest du unglaublich viel für deinen Vater geben und dich selbst dabei fast ganz "
             "aus dem Blick verlieren."),
            ("Ich sage zu allem Ja und merke erst hinterher, dass ich das gar nicht schaffe.",
             "Ich höre heraus, dass es dir schwerfällt, Nein zu sagen, und dass du am Ende den Preis dafür "
             "zahlst."),
        ],
        "acks": [
            "Das ist eine Menge, was du da gerade trägst.",
            "Wenn alles auf einmal kommt, ist es ganz verständlich, sich überfordert zu fühlen.",
            "Überforderung ist kein Zeichen von Schwäche, sondern oft ein Zeichen dafür, dass man schon lange "
            "sehr viel leistet.",
        ],
        "asks": [
            "Was fühlt sich im Moment am schwersten an?",
            "Magst du mir erzählen, was gerade alles auf dir lastet?",
            "Was geht in dir vor, wenn du an all das denkst?",
        ],
        "details": [
            ("Ich habe das Gefühl, dass alle etwas von mir wollen und keiner fragt, wie es mir geht.",
             "Es klingt, als würdest du ständig für andere da sein und dich dabei selbst ziemlich übersehen "
             "fühlen."),
            ("Ich liege abends im Bett und gehe im Kopf schon die Aufgaben für morgen durch.",
             "Es hört sich an, als käme dein Kopf nicht einmal abends zur Ruhe, weil er schon wieder beim "
             "nächsten Tag ist."),
            ("Ich schäme mich, dass ich nicht hinbekomme, was andere scheinbar mühelos schaffen.",
             "Ich höre heraus, dass du dich mit anderen vergleichst und dich dafür schämst, obwohl man von außen "
             "selten sieht, wie viel Mühe es die anderen kostet."),
        ],
        "help": [
            "Wie kann ich mit dieser ständigen Überforderung umgehen?",
            "Ich weiß nicht, wo ich anfangen soll. Hast du eine Idee?",
            "Was kann ich tun, wenn mir einfach alles zu viel wird?",
        ],
        "skills": ["kleine_schritte", "aufgaben", "atmung", "pause", "erdung", "vertrauensperson"],
    },
    "selbstzweifel": {
        "vents": [
            ("Ich habe das Gefühl, dass ich nichts richtig kann.",
             "Es klingt, als wärst du gerade sehr streng mit dir und als würde dir eine innere Stimme ständig "
             "sagen, dass du nicht gut genug bist."),
            ("Bei allem, was ich tue, denke ich, dass andere es besser könnten.",
             "Es hört sich an, als würdest du dich ständig an anderen messen und dabei jedes Mal den Kürzeren "
             "ziehen."),
            ("Ich habe eine Beförderung bekommen, aber ich glaube, das war nur Glück. Bald merken alle, dass ich "
             "das gar nicht kann.",
             "Es klingt, als könntest du deinen Erfolg gar nicht richtig annehmen, weil die Angst, als unfähig "
             "entlarvt zu werden, so laut ist."),
            ("Ich traue mich in Gesprächen kaum, etwas zu sagen, weil ich Angst habe, mich zu blamieren.",
             "Es klingt, als würdest du deine Gedanken lieber für dich behalten, um bloß nicht negativ "
             "aufzufallen, und als würde dich das ziemlich einengen."),
            ("Wenn ich in den Spiegel schaue, mag ich nicht, was ich sehe.",
             "Ich höre heraus, dass du gerade sehr hart mit dir ins Gericht gehst und wenig Freundliches für "
             "dich selbst übrig hast."),
        ],
        "acks": [
            "Selbstzweifel können sehr laut werden und einem die Freude an vielem nehmen.",
            "Es tut weh, so hart mit sich selbst zu sein, und viele Menschen kennen dieses Gefühl.",
            "Diese kritische innere Stimme kann einen ganz schön klein machen.",
        ],
        "asks": [
            "Magst du mir erzählen, in welchen Momenten dieses Gefühl besonders stark ist?",
            "Was sagst du in solchen Momenten zu dir selbst?",
            "Was geht dir in solchen Momenten durch den Kopf?",
        ],
        "details": [
            ("Ich denke dann: Du bist einfach nicht gut genug, du kriegst das eh nicht hin.",
             "Es klingt, als würde dir diese innere Stimme sehr harte Dinge sagen, die du zu einem Freund "
             "wahrscheinlich nie sagen würdest."),
            ("Das war eigentlich schon immer so. Schon in der Schule hatte ich das Gefühl, nicht mithalten zu "
             "können.",
             "Es hört sich an, als würde dich dieses Gefühl schon sehr lange begleiten, fast so, als wäre es ein "
             "Teil von dir geworden."),
            ("Wenn mich jemand lobt, kann ich das gar nicht glauben.",
             "Ich höre heraus, dass Lob an dir abprallt, während Kritik umso tiefer trifft."),
        ],
        "help": [
            "Wie kann ich lernen, weniger streng mit mir zu sein?",
            "Was hilft gegen diese ständigen Selbstzweifel?",
            "Hast du eine Idee, wie ich mein Selbstwertgefühl stärken kann?",
        ],
        "skills": ["selbstmitgefuehl", "staerken", "schreiben", "kleine_schritte", "vertrauensperson"],
    },
    "umzug": {
        "vents": [
            ("Ich bin vor zwei Monaten für den Job nach Hamburg gezogen und kenne hier niemanden.",
             "Es klingt, als wärst du zwar beruflich angekommen, aber innerlich noch nicht, weil dir vertraute "
             "Menschen fehlen."),
            ("Ich habe Heimweh. Alles hier ist fremd, sogar der Supermarkt.",
             "Es hört sich an, als würde dir gerade alles Vertraute fehlen und als wäre selbst der Alltag in der "
             "neuen Stadt noch anstrengend."),
            ("Für mein Studium bin ich in eine neue Stadt gezogen. Alle anderen scheinen schon Freunde gefunden "
             "zu haben, nur ich nicht.",
             "Es klingt, als würdest du dich am neuen Ort ziemlich außen vor fühlen, während alle anderen schon "
             "ihren Platz gefunden zu haben scheinen."),
            ("Wir sind wegen der Arbeit meines Mannes umgezogen, und ich fühle mich hier total verloren.",
             "Es klingt, als hättest du für diesen Umzug viel zurückgelassen und als würdest du in der neuen "
             "Umgebung noch nach deinem eigenen Halt suchen."),
            ("Eigentlich habe ich mich auf die neue Stadt gefreut, aber jetzt fühle ich mich nur einsam und "
             "bereue den Umzug.",
             "Ich höre heraus, dass die Vorfreude einer Enttäuschung gewichen ist und du gerade an deiner "
             "Entscheidung zweifelst."),
        ],
        "acks": [
            "Ein Umzug in eine neue Stadt ist ein großer Schritt, und es braucht Zeit, sich irgendwo zu Hause zu "
            "fühlen.",
            "Neu anzukommen kann sehr einsam sein, auch wenn man sich bewusst dafür entschieden hat.",
            "Es ist ganz normal, dass sich ein neuer Ort am Anfang fremd anfühlt.",
        ],
        "asks": [
            "Was fällt dir beim Ankommen gerade am schwersten?",
            "Magst du mir ein bisschen mehr darüber erzählen?",
            "Was vermisst du im Moment am meisten?",
        ],
        "details": [
            ("Ich vermisse meine Freunde. Mit denen konnte ich einfach spontan etwas unternehmen.",
             "Es klingt, als würde dir vor allem diese selbstverständliche Nähe fehlen, bei der man sich nicht "
             "erst verabreden oder erklären muss."),
            ("Nach der Arbeit sitze ich meistens allein in meiner Wohnung und weiß nichts mit mir anzufangen.",
             "Es hört sich an, als wären die Abende gerade besonders leer und als hättest du noch keinen Ort, "
             "an dem du dich wohlfühlst."),
            ("Ich weiß gar nicht, wie man als Erwachsener neue Freunde findet.",
             "Ich höre heraus, dass du dir neue Kontakte wünschst, aber gerade nicht so recht weißt, wie der "
             "erste Schritt aussehen könnte."),
        ],
        "help": [
            ("Wie finde ich in einer neuen Stadt Anschluss?", ["gemeinschaft"]),
            ("Was kann ich gegen mein Heimweh tun?", ["alte_freunde", "erkunden", "spaziergang"]),
            "Hast du Tipps, wie ich mich in der neuen Stadt schneller zu Hause fühle?",
        ],
        "skills": ["gemeinschaft", "alte_freunde", "erkunden", "spaziergang"],
    },
    "zukunft": {
        "vents": [
            ("Ich weiß nicht, was ich mit meinem Leben anfangen soll. Alle haben einen Plan, nur ich nicht.",
             "Es klingt, als würdest du dich gerade ziemlich orientierungslos fühlen und als würde der Vergleich "
             "mit den anderen den Druck noch verstärken."),
            ("Wenn ich die Nachrichten sehe, bekomme ich richtig Angst vor der Zukunft.",
             "Es hört sich an, als würden dich die Nachrichten mit einem Gefühl von Bedrohung und Hilflosigkeit "
             "zurücklassen."),
            ("Mein Vertrag läuft in drei Monaten aus, und ich habe noch keine neue Stelle. Ich mache mir ständig "
             "Sorgen.",
             "Es klingt, als würde die Ungewissheit über deine berufliche Zukunft wie ein Schatten über allem "
             "liegen."),
            ("Ich bin bald mit der Schule fertig und habe keine Ahnung, was ich danach machen will.",
             "Es klingt, als würde von dir eine große Entscheidung erwartet, während du selbst noch gar nicht "
             "weißt, wohin es gehen soll."),
            ("Ich mache mir so viele Sorgen um Geld, dass ich an nichts anderes mehr denken kann.",
             "Ich höre heraus, dass die Geldsorgen gerade fast deinen ganzen Kopf einnehmen und kaum Platz für "
             "etwas anderes lassen."),
        ],
        "acks": [
            "Ungewissheit gehört zu den Dingen, die Menschen am schwersten aushalten können.",
            "Sorgen um die Zukunft können einen ganz schön gefangen nehmen.",
            "Es ist verständlich, dass dich das beschäftigt, wenn so vieles offen ist.",
        ],
        "asks": [
            "Was macht dir dabei am meisten Angst?",
            "Magst du mir ein bisschen mehr darüber erzählen?",
            "Was geht dir durch den Kopf, wenn die Sorgen kommen?",
        ],
        "details": [
            ("Ich habe Angst, dass ich die falsche Entscheidung treffe und es dann für immer bereue.",
             "Es klingt, als würde die Angst vor einer falschen Entscheidung so schwer wiegen, dass jede "
             "Entscheidung fast unmöglich erscheint."),
            ("Ich male mir immer das Schlimmste aus und komme da nicht mehr raus.",
             "Es hört sich an, als würde dein Kopf immer wieder in die gleichen düsteren Bilder abbiegen, ohne "
             "dass du es steuern kannst."),
            ("Ich fühle mich so machtlos, als hätte ich gar keinen Einfluss auf mein Leben.",
             "Ich höre heraus, dass dich vor allem das Gefühl belastet, nichts in der Hand zu haben."),
        ],
        "help": [
            "Wie kann ich besser mit meinen Zukunftsängsten umgehen?",
            "Was kann ich tun, wenn mich die Sorgen um die Zukunft nicht loslassen?",
            ("Hast du eine Idee, wie ich aus dem Grübeln über die Zukunft herauskomme?",
             ["sorgenzeit", "schreiben", "erdung", "spaziergang"]),
        ],
        "skills": ["sorgenzeit", "schreiben", "erdung", "kleine_schritte", "spaziergang"],
    },
}

# --------------------------------------------------------------------------------------------------------------
# Coping ideas. say: ways to suggest it (1-2 sentences, never an order); follow: (user question, replies).

TECHNIQUES = {
    "atmung": {
        "say": [
            "Eine kleine Übung ist die 4-7-8-Atmung: Du atmest vier Sekunden lang durch die Nase ein, hältst den "
            "Atem sieben Sekunden an und atmest dann acht Sekunden lang langsam durch den Mund aus.",
            "Vielleicht magst du die 4-7-8-Atmung ausprobieren: vier Sekunden einatmen, sieben Sekunden halten, "
            "acht Sekunden ausatmen. Schon drei oder vier Runden können den Körper spürbar beruhigen.",
            "Manchen Menschen hilft es, bewusst länger aus- als einzuatmen, zum Beispiel mit der 4-7-8-Atmung: "
            "vier Sekunden ein, sieben halten, acht aus.",
        ],
        "follow": [
            ("Und wie oft sollte ich das machen?",
             ["Da gibt es kein Richtig oder Falsch. Viele machen drei oder vier Runden, wenn sie merken, dass die "
              "Anspannung steigt, oder abends vor dem Einschlafen. Wichtig ist vor allem das lange, ruhige "
              "Ausatmen."]),
            ("Mir wird beim Luftanhalten ein bisschen komisch.",
             ["Gut, dass du darauf achtest, wie dein Körper reagiert. Dann lass das Anhalten einfach weg oder "
              "verkürze es und atme nur ruhig ein und etwas länger aus. Es soll sich angenehm anfühlen, nicht "
              "anstrengend."]),
        ],
    },
    "erdung": {
        "say": [
            "Wenn die Gedanken rasen, kann die 5-4-3-2-1-Übung helfen: Nenne fünf Dinge, die du siehst, vier, "
            "die du hörst, drei, die du spürst, zwei, die du riechst, und eins, das du schmeckst.",
            "Eine Möglichkeit ist, dich mit der 5-4-3-2-1-Übung im Hier und Jetzt zu verankern. Du zählst dabei "
            "nacheinander fünf Dinge auf, die du siehst, vier Geräusche, drei Dinge, die du spürst, zwei Gerüche "
            "und einen Geschmack.",
        ],
        "follow": [
            ("Das klingt ein bisschen komisch. Hilft das wirklich?",
             ["Ich verstehe, dass das erst mal ungewohnt wirkt. Die Übung lenkt deine Aufmerksamkeit vom "
              "Gedankenkarussell weg hin zu dem, was gerade wirklich um dich herum ist. Probier es ruhig einmal "
              "aus, und wenn es nicht zu dir passt, ist das auch in Ordnung."]),
            ("Kann ich das auch unterwegs machen, zum Beispiel in der Bahn?",
             ["Ja, das geht überall, und niemand bemerkt es. Du kannst die Dinge einfach still für dich benennen. "
              "Gerade in vollen, hektischen Situationen kann das ein guter Anker sein."]),
        ],
    },
    "spaziergang": {
        "say": [
            "Manchmal tut schon ein kurzer Spaziergang an der frischen Luft gut, auch wenn es nur zehn Minuten um "
            "den Block sind.",
            "Vielleicht magst du heute eine kleine Runde draußen drehen, ohne Ziel und ohne Handy in der Hand. "
            "Bewegung hilft vielen Menschen, den Kopf ein wenig freizubekommen.",
        ],
        "follow": [
            ("Ich habe aber oft gar keine Energie, um rauszugehen.",
             ["Das verstehe ich gut, und das ist keine Schwäche. Vielleicht reicht es für den Anfang, nur kurz "
              "vor die Tür zu gehen oder das Fenster zu öffnen und ein paar Minuten frische Luft hereinzulassen. "
              "Jeder kleine Schritt zählt."]),
            ("Soll ich dabei Musik hören?",
             ["Das kannst du ganz so machen, wie es sich für dich gut anfühlt. Manchen hilft Musik, andere "
              "genießen gerade die Geräusche um sich herum. Probier ruhig beides aus."]),
        ],
    },
    "schreiben": {
        "say": [
            "Es kann entlasten, die Gedanken aufzuschreiben, einfach so, wie sie kommen, ohne auf Rechtschreibung "
            "oder Sinn zu achten.",
            "Vielleicht hilft es dir, abends ein paar Minuten lang alles aufzuschreiben, was dich beschäftigt. "
            "Auf dem Papier wirkt manches weniger übermächtig als im Kopf.",
        ],
        "follow": [
            ("Was soll ich denn da genau aufschreiben?",
             ["Alles, was dir durch den Kopf geht: Sorgen, Ärger, auch Kleinigkeiten. Es muss nicht schön oder "
              "sinnvoll sein. Wenn dir der Anfang schwerfällt, kannst du mit dem Satz „Gerade beschäftigt mich "
              "…“ beginnen."]),
            ("Ich habe Angst, dass jemand meine Notizen liest.",
             ["Das ist ein verständlicher Gedanke. Du kannst das Geschriebene danach auch zerreißen oder löschen – "
              "es geht ums Loswerden, nicht ums Aufbewahren."]),
        ],
    },
    "vertrauensperson": {
        "say": [
            "Vielleicht gibt es einen Menschen, dem du vertraust und dem du davon erzählen könntest, etwa eine "
            "Freundin, jemanden aus deiner Familie oder einen Kollegen.",
            "Es kann sehr entlasten, mit einem vertrauten Menschen darüber zu sprechen, selbst wenn er keine "
            "Lösung hat. Oft reicht es schon, gehört zu werden.",
        ],
        "follow": [
            ("Ich weiß nicht, wie ich so ein Gespräch anfangen soll.",
             ["Das geht vielen so. Du könntest einfach sagen: „Mir geht es gerade nicht so gut, hast du kurz Zeit "
              "für mich?“ Du musst nicht gleich alles erzählen, ein erster Satz reicht."]),
            ("Ich will niemanden mit meinen Problemen nerven.",
             ["Es spricht für dich, dass du Rücksicht nehmen möchtest. Viele Menschen empfinden es aber als "
              "Vertrauensbeweis, wenn sich jemand ihnen öffnet. Und du darfst dir genauso Unterstützung holen, "
              "wie du sie anderen geben würdest."]),
        ],
    },
    "schlafhygiene": {
        "say": [
            "Für ruhigere Nächte kann eine feste Abendroutine helfen: ungefähr zur gleichen Zeit ins Bett gehen, "
            "eine Stunde vorher die Bildschirme weglegen und etwas Ruhiges tun, etwa lesen oder Musik hören.",
            "Manchen hilft es, das Schlafzimmer kühl und dunkel zu halten und abends auf Kaffee zu verzichten. "
            "Wenn du nach einer Weile nicht einschlafen kannst, darfst du ruhig noch einmal aufstehen und etwas "
            "Entspannendes machen, bis du müde wirst.",
        ],
        "follow": [
            ("Ich schaue abends aber gern noch Serien im Bett.",
             ["Das ist total verständlich – Serien können ja auch entspannen. Vielleicht magst du ausprobieren, die "
              "letzte Folge etwas früher zu schauen und danach noch eine ruhige halbe Stunde ohne Bildschirm "
              "einzulegen. Schau einfach, ob sich dein Schlaf dadurch verändert."]),
            ("Und was mache ich, wenn ich nachts aufwache und grüble?",
             ["Dann kann es helfen, einen Zettel neben dem Bett liegen zu haben und die Gedanken kurz "
              "aufzuschreiben, um sie für die Nacht abzulegen. Auch ruhiges, langsames Ausatmen kann helfen, "
              "wieder zur Ruhe zu kommen. Und es ist in Ordnung, wenn es nicht sofort klappt."]),
        ],
    },
    "kleine_schritte": {
        "say": [
            "Wenn alles zu viel ist, kann es helfen, nur den allernächsten kleinen Schritt in den Blick zu "
            "nehmen, statt den ganzen Berg auf einmal.",
            "Vielleicht magst du dir für heute nur eine einzige, kleine Aufgabe vornehmen und dich bewusst "
            "darüber freuen, wenn du sie geschafft hast.",
        ],
        "follow": [
            ("Aber selbst der kleinste Schritt fühlt sich gerade riesig an.",
             ["Dann darf der Schritt noch kleiner sein, zum Beispiel nur ein Glas Wasser trinken oder das "
              "Fenster öffnen. Es geht nicht darum, viel zu schaffen, sondern überhaupt wieder in Bewegung zu "
              "kommen. Jeder dieser Mini-Schritte ist ein echter Erfolg."]),
            ("Und wenn ich es trotzdem nicht schaffe?",
             ["Dann ist das kein Versagen, sondern ein Zeichen, dass du gerade wirklich erschöpft bist. Sei bitte "
              "nachsichtig mit dir. Morgen ist ein neuer Tag, und manchmal ist Ausruhen genau das Richtige."]),
        ],
    },
    "aufgaben": {
        "say": [
            "Eine Idee wäre, alles aufzuschreiben, was ansteht, und dir dann nur eine Sache auszusuchen, die in "
            "zehn Minuten machbar ist. Kleine Erfolge geben oft wieder etwas Boden unter den Füßen.",
            "Manchmal hilft es, den großen Berg in kleine Portionen zu teilen und für heute nur eine davon "
            "einzuplanen, mit einer Pause danach.",
        ],
        "follow": [
            ("Aber es ist wirklich alles wichtig.",
             ["Das glaube ich dir, und trotzdem kann niemand alles gleichzeitig erledigen. Vielleicht hilft die "
              "Frage, was wirklich heute sein muss und was auch bis morgen oder nächste Woche warten kann. "
              "Manchmal darf man auch um Aufschub oder Hilfe bitten."]),
        ],
    },
    "abstand": {
        "say": [
            "Manchen hilft es, eine Weile bewusst Abstand zu halten, etwa Profile stummzuschalten und Fotos erst "
            "einmal in eine Kiste zu packen, statt sie ständig vor Augen zu haben.",
        ],
        "follow": [
            ("Aber ich will die Erinnerungen nicht einfach wegwerfen.",
             ["Das musst du auch nicht. Es geht nicht ums Wegwerfen, sondern darum, deinem Herzen gerade etwas Ruhe "
              "zu gönnen. Was du später damit machst, kannst du in Ruhe entscheiden."]),
        ],
    },
    "pause": {
        "say": [
            "Vielleicht magst du dir bewusst kleine Pausen in deinen Tag einbauen, in denen du nichts leisten "
            "musst, etwa eine Tasse Tee am Fenster oder ein Lied, das du magst.",
            "Manchmal helfen schon kurze Unterbrechungen: aufstehen, dich strecken, ein Glas Wasser trinken und "
            "ein paar Mal tief durchatmen.",
        ],
        "follow": [
            ("Ich habe aber gar keine Zeit für Pausen.",
             ["Das kann ich mir vorstellen, wenn so viel ansteht. Vielleicht reichen schon zwei Minuten zwischen "
              "zwei Aufgaben, in denen du aus dem Fenster schaust und durchatmest. Gerade wenn es voll ist, "
              "helfen solche kleinen Unterbrechungen oft, danach klarer weiterzumachen."]),
        ],
    },
    "selbstmitgefuehl": {
        "say": [
            "Versuch vielleicht einmal, mit dir so zu sprechen, wie du mit einer guten Freundin oder einem guten "
            "Freund sprechen würdest, dem es gerade genauso geht.",
            "Eine Idee ist, dir in schweren Momenten bewusst einen freundlichen Satz zu sagen, zum Beispiel: "
            "„Das ist gerade wirklich schwer, und ich gebe mein Bestes.“",
        ],
        "follow": [
            ("Das fällt mir richtig schwer. Ich bin einfach zu streng mit mir.",
             ["Das geht vielen so, und es ist gut, dass du das an dir bemerkst. Freundlichkeit mit sich selbst "
              "ist wie ein Muskel, der mit der Zeit stärker wird. Vielleicht fängst du mit einem einzigen "
              "freundlichen Gedanken am Tag an."]),
        ],
    },
    "gemeinschaft": {
        "say": [
            "Manchmal hilft es, an einen Ort zu gehen, an dem Menschen ein gemeinsames Interesse teilen, zum "
            "Beispiel einen Kurs an der Volkshochschule, einen Sportverein oder ein Ehrenamt.",
            "Vielleicht gibt es eine Gruppe, die etwas macht, das dich interessiert, etwa einen Chor, einen "
            "Lauftreff oder einen Spieleabend in einem Café. Dort ergeben sich Gespräche oft ganz nebenbei.",
        ],
        "follow": [
            ("Ich habe aber Angst, dass ich da niemanden kenne.",
             ["Das ist ganz normal: Am Anfang kennt man dort meistens niemanden, und vielen anderen geht es "
              "genauso. Du musst nicht gleich Freundschaften schließen. Es reicht, einfach da zu sein und zu "
              "schauen, wie es sich anfühlt."]),
        ],
    },
    "ritual": {
        "say": [
            "Manchen Trauernden hilft ein kleines Ritual, zum Beispiel eine Kerze anzuzünden oder einen Ort zu "
            "besuchen, der für euch wichtig war.",
            "Vielleicht magst du einen Brief schreiben, in dem du alles sagst, was dir noch auf dem Herzen "
            "liegt. Das kann helfen, dem Unausgesprochenen einen Platz zu geben.",
        ],
        "follow": [
            ("Ist es nicht komisch, einen Brief zu schreiben, den niemand mehr lesen kann?",
             ["Überhaupt nicht – viele Menschen machen das. Es geht darum, deinen Gefühlen einen Ausdruck zu geben. "
              "Du bestimmst, was du danach damit machst, ob du ihn aufhebst oder nicht."]),
        ],
    },
    "ich_botschaft": {
        "say": [
            "Manchmal hilft es, in einem ruhigen Moment aus der eigenen Sicht zu sprechen, also „Ich fühle mich "
            "verletzt, wenn …“ statt „Du machst immer …“.",
            "Eine Idee ist, schwierige Gespräche nicht mitten im Streit zu führen, sondern später in Ruhe, und "
            "dabei von dir zu erzählen statt Vorwürfe zu machen.",
        ],
        "follow": [
            ("Und wenn sie trotzdem sofort wieder laut werden?",
             ["Dann darfst du das Gespräch auch unterbrechen und sagen, dass du später weiterreden möchtest. Du "
              "bist nicht dafür verantwortlich, wie andere reagieren. Du darfst aber gut für dich sorgen."]),
        ],
    },
    "staerken": {
        "say": [
            "Vielleicht magst du abends drei Dinge aufschreiben, die dir heute gelungen sind, egal wie klein sie "
            "sind. Mit der Zeit lenkt das den Blick auf das, was du schon alles kannst.",
        ],
        "follow": [
            ("Mir fällt aber oft gar nichts ein.",
             ["Das ist am Anfang ganz normal, wenn man es nicht gewohnt ist, freundlich auf sich zu schauen. Auch "
              "Kleinigkeiten zählen, zum Beispiel, dass du jemandem zugehört oder etwas Leckeres gekocht hast. "
              "Mit etwas Übung wird es leichter."]),
        ],
    },
    "alte_freunde": {
        "say": [
            "Auch wenn deine Freunde jetzt weiter weg sind, kann ein regelmäßiger Videoanruf oder eine "
            "Sprachnachricht helfen, die Verbindung zu halten, während du hier neue Wurzeln schlägst.",
        ],
        "follow": [
            ("Ich habe Angst, dass wir uns trotzdem auseinanderleben.",
             ["Diese Sorge ist verständlich, Freundschaften verändern sich mit der Entfernung manchmal. Echte "
              "Verbindungen halten aber oft mehr aus, als man denkt. Vielleicht könnt ihr euch einen festen Termin "
              "für einen Anruf ausmachen."]),
        ],
    },
    "erkunden": {
        "say": [
            "Vielleicht magst du dir jede Woche einen neuen Ort in deiner Stadt anschauen, ein Café, einen Park "
            "oder einen Markt, und so nach und nach deine eigenen Lieblingsplätze finden.",
        ],
        "follow": [
            ("Allein macht das aber nicht so viel Spaß.",
             ["Das verstehe ich gut. Vielleicht wird es trotzdem zu einem kleinen Abenteuer, und an Orten, an die du "
              "öfter gehst, entstehen mit der Zeit oft auch Bekanntschaften. Später kannst du dann jemanden "
              "mitnehmen, den du neu kennenlernst."]),
        ],
    },
    "sorgenzeit": {
        "say": [
            "Manchen hilft eine feste „Sorgenzeit“: eine Viertelstunde am Tag, in der du dir bewusst Sorgen "
            "machen und sie aufschreiben darfst. Wenn die Sorgen außerhalb dieser Zeit auftauchen, kannst du sie "
            "freundlich auf später verschieben.",
        ],
        "follow": [
            ("Und das funktioniert wirklich?",
             ["Für viele ist es am Anfang ungewohnt, aber mit etwas Übung merken sie, dass sich die Sorgen ein "
              "Stück weit parken lassen. Es geht nicht darum, sie wegzudrücken, sondern ihnen einen festen Platz "
              "zu geben. Vielleicht magst du es ein paar Tage ausprobieren und schauen, was sich verändert."]),
        ],
    },
}

# Follow-ups that fit any technique.
GENERIC_FOLLOW = [
    ("Ich habe so etwas schon mal ausprobiert, aber so richtig geholfen hat es nicht.",
     ["Danke, dass du es schon versucht hast – das ist ein wichtiger Schritt. Solche Dinge wirken oft erst, "
      "wenn man sie ein paar Mal ausprobiert hat. Und wenn sie dir gar nicht liegen, ist das völlig in Ordnung.",
      "Es ist schön, dass du dich schon einmal darauf eingelassen hast. Nicht jede Idee passt zu jedem Menschen, "
      "und oft braucht es ein paar Versuche. Magst du erzählen, was dabei für dich schwierig war?"]),
    ("Ich weiß nicht, ob ich dafür gerade die Kraft habe.",
     ["Das ist völlig verständlich, wenn gerade so viel auf dir lastet. Du musst nichts davon sofort umsetzen. "
      "Vielleicht merkst du dir die Idee einfach für einen Moment, in dem es etwas leichter ist.",
      "Das darf so sein – du musst gerade gar nichts leisten. Manchmal reicht es schon, zu wissen, dass es solche "
      "Möglichkeiten gibt. Was würde dir im Moment am ehesten guttun?"]),
]

HELP_ACKS = [
    "Schön, dass du nach Wegen suchst, gut für dich zu sorgen.",
    "Es ist schon ein wichtiger Schritt, dass du etwas für dich tun möchtest.",
    "Da gibt es ein paar Dinge, die vielen Menschen helfen, und du kannst schauen, was zu dir passt.",
    "Gute Frage, und damit bist du wirklich nicht allein.",
]
INVITES = [
    "Magst du das einmal ausprobieren?",
    "Wäre das etwas, das du dir vorstellen könntest?",
    "Wie klingt das für dich?",
    "Vielleicht ist das ein kleiner Anfang, und du entscheidest, was sich für dich richtig anfühlt.",
]
MORE_IDEAS = [
    "Hast du vielleicht noch eine andere Idee?",
    "Gibt es noch etwas anderes, das ich ausprobieren könnte?",
    "Was könnte ich sonst noch tun?",
]
MORE_LEADS = [
    "Gern, hier ist noch eine Idee.",
    "Klar, es gibt noch andere Möglichkeiten.",
    "Es gibt noch einiges, was du ausprobieren kannst.",
]

# --------------------------------------------------------------------------------------------------------------
# Listening and reflecting pieces.

GENERIC_ACKS = [
    "Danke, dass du mir das erzählst.",
    "Schön, dass du dich meldest und das nicht allein mit dir herumträgst.",
    "Ich bin da und höre dir zu.",
    "Ich bin froh, dass du dich mir anvertraust.",
    "Ich nehme mir gern Zeit für dich.",
    "Gut, dass du das aussprichst.",
]
VALIDATIONS = [
    "Das kann ich gut nachvollziehen.",
    "Kein Wunder, dass dich das so beschäftigt.",
    "Danke, dass du das so offen teilst.",
    "Es ist verständlich, dass dich das mitnimmt.",
    "So, wie du es beschreibst, ist das wirklich viel.",
]
REFLECT_OPENERS = [
    "Danke, dass du mir das erzählst.",
    "Ich bin ganz bei dir.",
    "Lass mich kurz zusammenfassen, wie das bei mir ankommt.",
]
CHECK_OPENER = "Ich möchte sichergehen, dass ich dich richtig verstehe."  # only before a yes/no check
FEELING_OK = [
    "Solche Gefühle sind völlig nachvollziehbar.",
    "Es ist in Ordnung, dass du dich so fühlst.",
    "Alles, was du da fühlst, hat seine Berechtigung.",
    "Das darf sich genau so schwer anfühlen, wie es sich anfühlt.",
]
CHECKS = [
    "Trifft das ungefähr, wie es dir geht?",
    "Habe ich das richtig verstanden?",
    "Kommt das in etwa hin?",
    "Stimmt das so für dich?",
    "Liege ich damit richtig?",
]
CONFIRMS = [
    "Ja, genau so ist es.",
    "Ja, das trifft es ziemlich gut.",
    "Ja, so fühlt es sich an.",
    "Ja, irgendwie schon.",
    "Genau.",
]

# A deeper question in the second reply, then possible answers with fitting replies.
THREADS = [
    {"key": "umfeld",
     "ask": "Gibt es jemanden in deinem Umfeld, mit dem du darüber sprechen kannst?",
     "answers": [
         ("Eigentlich schon, meine beste Freundin. Aber ich will sie nicht ständig damit belasten.",
          ["Es ist schön, dass du so eine Freundin hast, und es zeigt, wie rücksichtsvoll du bist. Freundschaften "
           "leben aber auch davon, dass man sich gegenseitig stützen darf. Vielleicht kannst du ihr ehrlich sagen, "
           "dass es dir gerade nicht gut geht, und schauen, wie sie reagiert?",
           "Es ehrt dich, dass du an sie denkst. Oft freuen sich nahe Menschen aber, wenn man sich ihnen "
           "anvertraut, statt alles allein zu tragen. Du musst ihr ja nicht alles auf einmal erzählen."]),
         ("Nicht wirklich. Ich habe das Gefühl, dass mich sowieso niemand versteht.",
          ["Das klingt sehr einsam, und es tut mir leid, dass du dich so fühlst. Umso wichtiger finde ich, dass du "
           "dich hier mitteilst. Magst du mir erzählen, was du dir von anderen am meisten wünschen würdest?",
           "Es ist schmerzhaft, sich so unverstanden zu fühlen. Ich höre dir gern zu, so lange du magst. Was "
           "müsste jemand verstehen, um dich wirklich zu sehen?"]),
     ]},
    {"key": "guttun",
     "ask": "Was würde dir im Moment am meisten guttun?",
     "answers": [
         ("Ich weiß es ehrlich gesagt nicht. Vielleicht einfach mal Ruhe.",
          ["Das ist völlig in Ordnung, du musst es nicht wissen. Der Wunsch nach Ruhe sagt schon viel darüber, wie "
           "erschöpft du gerade bist. Gibt es heute einen kleinen Moment, in dem du dir diese Ruhe gönnen "
           "könntest?"]),
         ("Ich glaube, einfach jemand, der mir zuhört, ohne gleich Ratschläge zu geben.",
          ["Das kann ich dir hier gern geben. Erzähl einfach, was dir auf dem Herzen liegt – ich höre zu. Es muss "
           "nichts gelöst werden.",
           "Das ist ein sehr verständlicher Wunsch. Dann bin ich jetzt einfach da und höre dir zu. Erzähl so viel "
           "oder so wenig, wie du möchtest."]),
     ]},
    {"key": "umgang",
     "ask": "Wie gehst du bisher damit um?",
     "answers": [
         ("Meistens lenke ich mich ab, mit Handy oder Serien. Aber danach ist alles wieder da.",
          ["Ablenkung kann kurzfristig wirklich entlasten – dafür musst du dich nicht schämen. Es klingt aber, als "
           "würdest du spüren, dass die Gefühle dadurch nicht verschwinden. Wie wäre es, ihnen hier einmal ein "
           "bisschen Raum zu geben?"]),
         ("Ich versuche, es einfach wegzudrücken und weiterzumachen.",
          ["Das ist eine Strategie, die viele kennen, und oft trägt sie eine Weile. Auf Dauer kostet das "
           "Wegdrücken aber viel Kraft. Hier darfst du es ruhig einmal zulassen, ohne dich zusammenreißen zu "
           "müssen.",
           "Das klingt, als würdest du sehr viel aushalten. Weitermachen ist manchmal nötig, aber deine Gefühle "
           "dürfen auch einen Platz bekommen. Wie geht es dir, wenn du sie einen Moment lang zulässt?"]),
     ]},
    {"key": "frueher",
     "ask": "Was hat dir in schweren Zeiten früher schon einmal geholfen?",
     "answers": [
         ("Früher bin ich viel gelaufen, das hat mir immer den Kopf freigemacht. Aber dazu komme ich gerade gar "
          "nicht mehr.",
          ["Wie schön, dass du etwas kennst, das dir guttut. Vielleicht muss es gar nicht die große Runde sein – "
           "schon zehn Minuten draußen könnten ein Anfang sein. Wie klingt das für dich?"]),
         ("Musik hat mir immer geholfen. Aber im Moment höre ich kaum noch welche.",
          ["Musik kann so viel in uns bewegen. Vielleicht magst du heute bewusst ein Lied auflegen, das dir früher "
           "gutgetan hat, und einfach schauen, was es mit dir macht. Es muss nichts Großes passieren."]),
     ]},
    {"key": "aussprechen",
     "ask": "Wie fühlt es sich an, das einmal auszusprechen?",
     "answers": [
         ("Ein bisschen leichter, ehrlich gesagt.",
          ["Das freut mich. Manchmal verliert eine Last schon etwas von ihrem Gewicht, wenn man sie in Worte "
           "fasst. Du kannst jederzeit weitererzählen, wenn dir danach ist."]),
         ("Komisch. Ich habe das noch nie jemandem erzählt.",
          ["Danke, dass du es mir anvertraust – das braucht Mut. Es ist völlig normal, dass sich das erst mal "
           "ungewohnt anfühlt. Lass dir Zeit – hier musst du nichts überstürzen."]),
     ]},
]

# Closing turn: (user, replies, fits_coping_only).
CLOSINGS = [
    ("Danke dir, das hilft mir gerade wirklich.",
     ["Das freut mich sehr. Du kannst jederzeit wiederkommen, wenn du reden möchtest. Pass gut auf dich auf.",
      "Schön, dass es dir ein bisschen hilft. Sei in den nächsten Tagen nachsichtig mit dir, und melde dich "
      "gern wieder, wenn dir danach ist."], False),
    ("Danke fürs Zuhören. Mir geht es schon etwas besser.",
     ["Das freut mich zu hören. Danke, dass du dich mir anvertraut hast. Gönn dir heute noch etwas, das dir "
      "guttut.",
      "Wie schön, dass es dir ein kleines bisschen leichter ums Herz ist. Ich bin da, wenn du wieder reden "
      "möchtest."], False),
    ("Es tut gut, dass mir mal jemand zuhört.",
     ["Das verstehe ich gut, und ich höre dir gern zu. Du verdienst es, gehört zu werden. Melde dich jederzeit, "
      "wenn dir wieder etwas auf dem Herzen liegt."], False),
    ("Ich glaube, ich muss das alles erst mal sacken lassen.",
     ["Das ist völlig in Ordnung, lass dir die Zeit, die du brauchst. Wenn du magst, können wir später "
      "weiterreden. Pass gut auf dich auf."], False),
    ("Okay, ich glaube, das probiere ich mal aus.",
     ["Das klingt gut. Schau einfach, wie es sich für dich anfühlt, und sei nicht enttäuscht, wenn es nicht "
      "sofort klappt. Du kannst mir gern erzählen, wie es gelaufen ist.",
      "Schön, dass du es versuchen möchtest. Geh dabei liebevoll mit dir um, es gibt kein Richtig oder Falsch. "
      "Ich bin da, wenn du darüber sprechen möchtest."], True),
]

# --------------------------------------------------------------------------------------------------------------
# Boundaries: diagnosis, medication, replacing therapy.

BOUNDARIES = {
    "diagnose": {
        "users": [
            "Ich bin seit Wochen traurig und antriebslos. Habe ich eine Depression?",
            "Kannst du mir sagen, ob ich eine Angststörung habe? Ich bekomme in der Bahn oft Herzrasen.",
            "Ich kann mich nie konzentrieren und verliere ständig Sachen. Ist das ADHS?",
            "Meine Stimmung schwankt total. Bin ich vielleicht bipolar?",
            "Was ich gerade erlebe, klingt genau wie ein Burnout. Kannst du mir das bestätigen?",
            "Ich habe einen Online-Test gemacht, und da kam eine Zwangsstörung raus. Stimmt das?",
        ],
        "limits": [
            "Ich verstehe, dass du dir Klarheit wünschst, aber ich bin kein Therapeut und kann keine Diagnose "
            "stellen.",
            "Das kann ich dir leider nicht beantworten, denn eine Diagnose kann nur eine Fachperson nach einem "
            "persönlichen Gespräch stellen. Ich bin kein Arzt und kein Therapeut.",
            "Ich bin nur ein Gesprächsbegleiter und kein Therapeut, deshalb kann ich dir keine Diagnose geben und "
            "auch keine fachliche Einschätzung ersetzen.",
        ],
        "referrals": [
            "Eine gute erste Anlaufstelle ist deine Hausärztin oder dein Hausarzt.",
            "Eine Psychotherapeutin oder ein Psychotherapeut kann gemeinsam mit dir herausfinden, was los ist und "
            "was dir helfen kann.",
            "Über die Nummer 116 117 kannst du dir einen Termin für eine psychotherapeutische Sprechstunde "
            "vermitteln lassen.",
            "Bitte wende dich dafür an deine Hausärztin oder deinen Hausarzt oder an eine Psychotherapeutin oder einen "
            "Psychotherapeuten.",
        ],
    },
    "medikamente": {
        "users": [
            "Welche Tabletten helfen am besten gegen Angst?",
            "Ich nehme seit einem Monat ein Antidepressivum und fühle mich besser. Kann ich es jetzt absetzen?",
            "Kannst du mir ein Schlafmittel empfehlen, das man ohne Rezept bekommt?",
            "Ist es schlimm, wenn ich zu meinen Tabletten Alkohol trinke?",
            "Meine Medikamente wirken irgendwie nicht mehr. Soll ich die Dosis erhöhen?",
            "Hilft Johanniskraut gegen Depressionen?",
        ],
        "limits": [
            "Zu Medikamenten kann ich dir keine Empfehlung geben, weil ich kein Arzt bin und deine Situation nicht "
            "beurteilen kann.",
            "Das ist eine wichtige Frage, aber bei Medikamenten bin ich die falsche Adresse. Ich bin kein Arzt und "
            "kann dazu nichts Verlässliches sagen.",
            "Ich bin weder Arzt noch Therapeut und gebe deshalb keine Ratschläge zu Medikamenten.",
        ],
        "referrals": [
            "Bitte besprich das mit deiner Ärztin oder deinem Arzt oder lass dich in der Apotheke beraten, bevor "
            "du etwas einnimmst oder veränderst.",
            "Deine Hausärztin oder dein Hausarzt kann das gemeinsam mit dir anschauen – gerade beim Absetzen "
            "oder Ändern von Medikamenten ist das wichtig.",
            "Die richtige Ansprechperson dafür ist deine Ärztin oder dein Arzt, und auch in der Apotheke bekommst "
            "du eine fachkundige Auskunft.",
        ],
    },
    "therapie": {
        "users": [
            "Ehrlich gesagt brauche ich keinen Therapeuten, ich rede einfach mit dir. Du bist doch genauso gut.",
            "Kannst du meine Therapeutin ersetzen? Die Sitzungen sind mir zu anstrengend.",
            "Ich habe meine Therapie abgebrochen. Kannst du ab jetzt meine Therapie machen?",
            "Auf einen Therapieplatz warte ich Monate. Kannst du nicht so lange mein Therapeut sein?",
            "Mit dir ist es leichter als mit echten Menschen. Reicht es nicht, wenn ich nur noch mit dir über "
            "meine Probleme spreche?",
        ],
        "limits": [
            "Es freut mich, dass dir unsere Gespräche guttun. Trotzdem bin ich kein Therapeut und kann eine "
            "Therapie nicht ersetzen.",
            "Ich bin gern für dich da, aber ich bin kein Therapeut und kann eine Therapie nicht ersetzen, denn mir "
            "fehlen die Ausbildung und die Möglichkeit, dich wirklich zu begleiten.",
            "Danke für dein Vertrauen. Ich möchte ehrlich zu dir sein: Ich bin kein Therapeut, und eine Therapie "
            "kann ich nicht ersetzen.",
        ],
        "referrals": [
            "Wenn es dir schwerfällt, eine Therapie zu finden oder dabeizubleiben, kann auch deine Hausärztin "
            "oder dein Hausarzt weiterhelfen.",
            "Über die 116 117 kannst du dir einen Termin für eine psychotherapeutische Sprechstunde vermitteln "
            "lassen, das geht oft schneller als die Suche auf eigene Faust.",
            "Sprich gern offen mit einer Psychotherapeutin oder einem Psychotherapeuten darüber, was du brauchst, "
            "auch darüber, was dir an Therapie schwerfällt.",
        ],
    },
}
OFFERS = [
    "Was ich dir anbieten kann: Ich höre dir gern zu, wenn du erzählen möchtest, wie es dir gerade geht.",
    "Bis dahin bin ich gern für dich da, um zuzuhören und mit dir zu sortieren, was dich beschäftigt.",
    "Wenn du magst, kannst du mir trotzdem erzählen, was dich gerade belastet.",
    "Magst du mir erzählen, wie es dir im Moment damit geht?",
]
# (user, replies, kinds it fits)
BOUNDARY_FOLLOW = [
    ("Aber du kannst doch sicher einschätzen, ob es schlimm ist, oder?",
     ["Ich verstehe, dass die Ungewissheit schwer auszuhalten ist. Ich möchte dir aber nichts sagen, was dich "
      "verunsichert oder in falscher Sicherheit wiegt. Eine Fachperson kann das viel verlässlicher einschätzen "
      "als ich.",
      "Ich kann gut verstehen, dass du eine Antwort möchtest. Trotzdem wäre es nicht fair dir gegenüber, wenn "
      "ich etwas einschätze, wofür es eine fachliche Untersuchung braucht. Deine Sorgen sind es wert, ernst "
      "genommen zu werden."],
     ("diagnose", "medikamente")),
    ("Ich weiß gar nicht, wie ich an einen Therapieplatz komme.",
     ["Das ist am Anfang oft verwirrend – damit bist du nicht allein. Ein guter erster Schritt ist die "
      "Hausarztpraxis, oder du rufst die 116 117 an: Die Terminservicestelle vermittelt Termine für eine "
      "psychotherapeutische Sprechstunde. Dort wird dann gemeinsam geschaut, welche Unterstützung zu dir "
      "passt."],
     ("diagnose", "therapie")),
    ("Ich habe Angst, dass mich der Arzt nicht ernst nimmt.",
     ["Diese Sorge ist verständlich. Es kann helfen, dir vorher ein paar Stichpunkte aufzuschreiben, wie es dir "
      "geht und seit wann. Du hast ein Recht darauf, ernst genommen zu werden, und darfst dir auch eine zweite "
      "Meinung holen."],
     ("diagnose", "medikamente", "therapie")),
    ("Die Wartezeiten sind so lang. Was mache ich bis dahin?",
     ["Das ist wirklich frustrierend, wenn man Hilfe braucht und warten muss. In der Zwischenzeit können kleine "
      "Dinge helfen, etwa feste Routinen, Bewegung oder Gespräche mit vertrauten Menschen. Und wenn es dir "
      "zwischendurch sehr schlecht geht, erreichst du die Telefonseelsorge rund um die Uhr unter 0800 111 0 111 "
      "oder 0800 111 0 222, und in akuten Notfällen gibt es die 112."],
     ("diagnose", "therapie")),
]
# (user, replies, then the user tells how they feel)
BOUNDARY_THEN = [
    ("Okay. Kann ich dir dann wenigstens erzählen, wie es mir gerade geht?",
     ["Natürlich, sehr gern. Ich bin da und höre dir zu. Erzähl einfach, womit du anfangen möchtest."], True),
    ("Das verstehe ich. Darf ich dir trotzdem erzählen, was mich gerade beschäftigt?",
     ["Auf jeden Fall, dafür bin ich da. Nimm dir so viel Zeit, wie du brauchst."], True),
    ("Du hast recht. Ich mache mir morgen einen Termin.",
     ["Das finde ich einen wirklich guten Schritt, und er braucht Mut. Wenn du magst, kannst du mir danach "
      "erzählen, wie es gelaufen ist."], False),
]

# --------------------------------------------------------------------------------------------------------------
# Crisis. The first reply to a crisis message gives the referral numbers of its group (langcpt.safety
# `safety.referrals`) in its first or second sentence: a short caring sentence, then one sentence with all the
# numbers, then the rest (what to do now, not staying alone). A small model answering greedily in few tokens then
# already refers. Every later reply of the conversation gives the numbers too.
#
# SCENARIOS: kind -> group (the referral group), users (the user's first message, in many styles), cares (one short
# sentence), refers (one sentence with all the group's numbers), mids and ends (one sentence each, optional: ""),
# stages (the follow-up turns: a key of STAGES), gendered (users are (message, "f"|"m") and texts use
# {nom}/{acc}/{dat}/{poss}/{Nom}). Phone numbers: only those of params.yaml safety.referral(s) and check_in.

CARE_SUICIDE = [
    "Danke, dass du mir das anvertraust – ich nehme das sehr ernst.",
    "Es tut mir sehr leid, dass du so viel Schmerz in dir trägst.",
    "Ich bin froh, dass du dich gemeldet hast, und ich nehme das sehr ernst.",
    "Das klingt, als wärst du gerade an einem sehr dunklen Punkt.",
    "Ich höre, wie erschöpft und verzweifelt du bist.",
    "Was du gerade fühlst, ist unglaublich schwer, und du verdienst jetzt Unterstützung.",
    "Gut, dass du es aussprichst, statt es allein mit dir herumzutragen.",
]
REFER_SUICIDE = [
    "Bitte ruf jetzt den Notruf 112 an, wenn du in akuter Gefahr bist, oder sprich mit der TelefonSeelsorge unter "
    "0800 111 0 111 oder 0800 111 0 222 – kostenlos, anonym und rund um die Uhr.",
    "Wenn du dich gerade nicht sicher fühlst, wähle bitte sofort die 112; reden kannst du jederzeit mit der "
    "TelefonSeelsorge unter 0800 111 0 111, 0800 111 0 222 oder 116 123.",
    "Bitte hol dir jetzt Hilfe: im Notfall den Notruf 112, zum Reden die TelefonSeelsorge unter 0800 111 0 111 "
    "oder 0800 111 0 222, Tag und Nacht.",
    "Die TelefonSeelsorge ist jetzt für dich da, kostenlos und anonym unter 0800 111 0 111 oder 0800 111 0 222, "
    "und wenn du in akuter Gefahr bist, ruf bitte sofort die 112 an.",
    "Wenn du Sorge hast, dir etwas anzutun, ruf bitte sofort den Notruf 112 an, und die TelefonSeelsorge "
    "erreichst du rund um die Uhr unter 0800 111 0 111 oder 116 123.",
]
MID_SUICIDE = [
    "Du musst diese Gedanken nicht allein aushalten, und es gibt Menschen, die dir durch diese Zeit helfen können.",
    "Solche Gedanken können sich überwältigend anfühlen, und sie können mit Unterstützung wieder leiser werden.",
    "Ich bin hier und höre dir zu, wenn du erzählen magst, was gerade passiert ist.",
    "",
]
NOT_ALONE = [
    "Bitte bleib jetzt nicht allein – gibt es jemanden, den du anrufen oder zu dem du gehen kannst?",
    "Bitte bleib gerade nicht allein: Ruf eine Person an, der du vertraust, oder geh dorthin, wo andere "
    "Menschen sind.",
    "Bitte bleib nicht allein – ist jemand in der Nähe, der jetzt zu dir kommen kann?",
    "Es ist wichtig, dass du jetzt nicht allein bist – vielleicht kannst du einer Freundin, einem Nachbarn oder "
    "jemandem aus deiner Familie Bescheid sagen.",
]
CARE_HARM = [
    "Danke, dass du so offen bist – du verdienst Unterstützung statt Vorwürfe.",
    "Es tut mir leid, dass es dir gerade so schlecht geht, und ich verurteile dich nicht.",
    "Ich bin froh, dass du dich meldest und das nicht allein mit dir ausmachst.",
    "Das klingt, als müsstest du gerade sehr viel aushalten.",
]
REFER_HARM = [
    "Wenn du dich schwer verletzt hast oder dich gleich schwer verletzen könntest, ruf bitte sofort den Notruf 112 "
    "an; reden kannst du jederzeit mit der TelefonSeelsorge unter 0800 111 0 111 oder 0800 111 0 222.",
    "Falls eine Wunde stark blutet oder du dich gerade nicht sicher fühlst, wähle bitte sofort die 112, und die "
    "TelefonSeelsorge ist unter 0800 111 0 111 oder 0800 111 0 222 rund um die Uhr für dich da.",
    "Wenn eine Wunde stark blutet oder du in Gefahr bist, dich schwer zu verletzen, ruf bitte sofort die 112 an, "
    "und die TelefonSeelsorge hört dir kostenlos und anonym zu, unter 0800 111 0 111 oder 0800 111 0 222.",
]
MID_HARM = [
    "Der Druck, den du beschreibst, ist echt, und es gibt Wege, ihn auszuhalten, ohne dich zu verletzen.",
    "Du musst damit nicht allein klarkommen, und eine Ärztin oder Beratungsstelle kann dir ohne Vorwürfe helfen.",
    "",
]
REFER_PLACE = [
    "Bitte geh jetzt ein paar Schritte weg von der Stelle und ruf sofort den Notruf 112 an; auch die "
    "TelefonSeelsorge ist unter 0800 111 0 111 oder 0800 111 0 222 jetzt gerade für dich da.",
    "Bitte bring dich zuerst in Sicherheit, weg von dieser Stelle, und wähle sofort die 112, oder ruf die "
    "TelefonSeelsorge unter 0800 111 0 111 an.",
    "Bitte ruf jetzt sofort den Notruf 112 an und geh dabei weg von der Gefahr; die TelefonSeelsorge unter "
    "0800 111 0 111 oder 0800 111 0 222 kannst du auch jetzt erreichen.",
]
MID_PLACE = [
    "Wenn Menschen in der Nähe sind, sprich sie an und sag ihnen, dass du Hilfe brauchst.",
    "Du musst diesen Moment nicht allein durchstehen, Hilfe kann schnell bei dir sein.",
    "Schreib mir gern weiter, während du Hilfe holst – ich bin hier.",
]
CARE_METHOD = [
    "Bei dieser Frage mache ich mir große Sorgen um dich, und eine Anleitung dazu gebe ich dir nicht.",
    "Darauf antworte ich dir nicht, weil ich mir Sorgen um dich mache und dein Leben wichtig ist.",
    "Ich merke, wie verzweifelt du sein musst, wenn du danach fragst, und dabei helfe ich dir nicht.",
]
MID_METHOD = [
    "Ich höre dir aber gern zu: Was ist passiert, dass du gerade so denkst?",
    "Magst du mir erzählen, was dich an diesen Punkt gebracht hat?",
    "",
]
REFER_FOOD = [
    "Wenn du seit Tagen nichts getrunken hast oder dir schwindlig wird, ist das ein Notfall: Bitte ruf den Notruf "
    "112 an, und reden kannst du jederzeit mit der TelefonSeelsorge unter 0800 111 0 111 oder 0800 111 0 222.",
    "Bitte ruf den Notruf 112 an, wenn du schwach oder schwindlig bist, und sprich mit der TelefonSeelsorge unter "
    "0800 111 0 111 oder 0800 111 0 222, kostenlos und rund um die Uhr.",
]
MID_FOOD = [
    "Vielleicht schaffst du jetzt ein paar Schlucke Wasser, nur für den Moment.",
    "Dein Körper braucht gerade dringend Versorgung, und eine Ärztin kann dir helfen, ohne dich zu verurteilen.",
    "",
]
CARE_VOICES = [
    "Das klingt sehr beängstigend, und ich bin froh, dass du es mir erzählst.",
    "Danke, dass du mir davon schreibst – das muss sehr bedrohlich sein.",
    "Ich nehme das ernst, und du bist damit nicht allein.",
]
REFER_VOICES = [
    "Bitte ruf jetzt den Notruf 112 an oder lass jemanden in deiner Nähe anrufen; auch die TelefonSeelsorge ist "
    "unter 0800 111 0 111 oder 0800 111 0 222 sofort für dich da.",
    "Wenn du fürchtest, den Stimmen zu folgen, wähle bitte sofort die 112, und reden kannst du jederzeit mit der "
    "TelefonSeelsorge unter 0800 111 0 111.",
]
MID_VOICES = [
    "Du musst nicht tun, was die Stimmen sagen, und beim Rettungsdienst oder in einer Klinik kennt man solche "
    "Erfahrungen und kann dir schnell helfen.",
    "Solche Stimmen können behandelt werden, und Ärztinnen und Ärzte kennen das.",
]
CARE_OTHER = [
    "Das ist eine sehr belastende Situation, und es ist gut, dass du dich sofort kümmerst.",
    "Es ist gut, dass du das ernst nimmst und nicht wegschaust.",
    "Ich verstehe, dass du dir große Sorgen machst, und du tust das Richtige.",
]
REFER_OTHER = [
    "Wenn du glaubst, dass {nom} in akuter Gefahr ist, ruf bitte sofort den Notruf 112 an; Rat für dich gibt es "
    "rund um die Uhr bei der TelefonSeelsorge unter 0800 111 0 111 oder 0800 111 0 222.",
    "Nimm das ernst: Wenn {nom} sich jetzt etwas antun könnte, wähle bitte sofort die 112, und die "
    "TelefonSeelsorge unter 0800 111 0 111 oder 0800 111 0 222 berät auch Angehörige und Freunde.",
    "Bitte ruf den Notruf 112 an, wenn {nom} in Gefahr ist, oder hol dir Rat bei der TelefonSeelsorge unter "
    "0800 111 0 111, kostenlos und jederzeit.",
]
STAY_OTHER = [
    "Lass {acc} möglichst nicht allein und bleib mit {dat} in Kontakt.",
    "Wenn es geht, bleib bei {dat} oder sorge dafür, dass jemand anderes bei {dat} ist, damit {nom} nicht allein "
    "ist.",
]
CARE_DANGER = [
    "Es ist gut und verantwortungsvoll, dass du das aussprichst, bevor etwas passiert.",
    "Danke, dass du so ehrlich bist – dass du Hilfe suchst, zeigt, dass du niemanden verletzen willst.",
    "Ich verurteile dich nicht, und ich nehme das sehr ernst.",
]
REFER_INFANT = [
    "Bitte bring dein Kind jetzt an einen sicheren Ort, zum Beispiel in sein Bett, geh selbst kurz aus dem Raum und "
    "ruf den Notruf 112 oder die TelefonSeelsorge unter 0800 111 0 111 an.",
    "Leg dein Kind jetzt sicher ab, geh aus dem Zimmer und wähle den Notruf 112, wenn du dich nicht mehr im Griff "
    "hast; die TelefonSeelsorge unter 0800 111 0 111 oder 0800 111 0 222 ist auch nachts für dich da.",
]
REFER_DANGER = [
    "Bitte geh jetzt auf Abstand, leg alles weg, womit du jemanden verletzen könntest, und ruf den Notruf 112 an; "
    "reden kannst du sofort mit der TelefonSeelsorge unter 0800 111 0 111 oder 0800 111 0 222.",
    "Wenn jemand gerade in Gefahr ist, wähle bitte sofort die 112 und geh auf Abstand, und die TelefonSeelsorge "
    "hilft dir rund um die Uhr unter 0800 111 0 111.",
]
ALONE_DANGER = [
    "Bitte bleib damit nicht allein: Ruf jemanden an, der jetzt zu dir kommen kann.",
    "Bitte bleib damit nicht allein, und hol dir jemanden dazu, dem du vertraust.",
]
CARE_POISON = [
    "Gut, dass du sofort schreibst.",
    "Ich nehme das sehr ernst, und jetzt zählt jede Minute.",
    "Danke, dass du dich sofort meldest.",
]
REFER_POISON = [
    "Bitte ruf sofort den Notruf 112 an – das ist ein medizinischer Notfall, auch wenn man noch nichts merkt; der "
    "Giftnotruf, zum Beispiel in Berlin unter 030 19240, berät zusätzlich rund um die Uhr.",
    "Das ist ein medizinischer Notfall: Bitte wähle jetzt sofort die 112, und Rat bekommst du auch beim Giftnotruf, "
    "zum Beispiel in Berlin unter 030 19240.",
    "Bitte wähle jetzt die 112, auch wenn es gerade noch nicht schlimm wirkt, und halte für Fragen den Giftnotruf "
    "bereit, zum Beispiel in Berlin unter 030 19240.",
]
MID_POISON_SELF = [
    "Wenn du danach reden möchtest, ist die TelefonSeelsorge unter 0800 111 0 111 für dich da.",
    "Bitte öffne, wenn du kannst, die Wohnungstür für den Rettungsdienst und sag, was du genommen hast.",
]
END_POISON_SELF = [
    "Bitte bleib nicht allein und sag jemandem in deiner Nähe sofort Bescheid.",
    "Bitte bleib nicht allein, bis Hilfe da ist.",
]
MID_POISON_OTHER = [
    "Halte die Packung oder einen Rest bereit, damit du sagen kannst, was genommen wurde.",
    "Bring niemanden zum Erbrechen und halte die Packung bereit.",
]
END_POISON_OTHER = [
    "Bleib bei der Person oder hol jemanden dazu, bis Hilfe da ist.",
    "Lass die Person nicht allein, bis der Rettungsdienst da ist.",
]
CARE_VIOLENCE = [
    "Es tut mir so leid, was dir passiert ist.",
    "Danke, dass du mir davon erzählst – das braucht viel Mut.",
    "Was dir angetan wird, ist nicht deine Schuld.",
    "Ich glaube dir, und ich nehme das sehr ernst.",
]
REFER_VIOLENCE = [
    "Wenn du gerade in Gefahr bist, ruf bitte sofort die Polizei unter 110 an; das Hilfetelefon Gewalt gegen Frauen "
    "ist rund um die Uhr kostenlos und anonym für dich da: 116 016.",
    "In akuter Gefahr wähle bitte sofort die 110, und Rat bekommst du jederzeit, kostenlos und anonym beim "
    "Hilfetelefon Gewalt gegen Frauen unter 116 016.",
    "Das Hilfetelefon Gewalt gegen Frauen berät dich rund um die Uhr unter 116 016, und wenn du bedroht wirst, ruf "
    "bitte sofort die Polizei unter 110 an.",
]
MID_VIOLENCE = [
    "Du hast ein Recht darauf, sicher zu sein, und es gibt Frauenhäuser und Beratungsstellen, die dir weiterhelfen.",
    "Du musst das nicht allein tragen, und es ist richtig, darüber zu sprechen.",
    "",
]
CARE_ACUTE = [
    "Deine Sicherheit geht jetzt vor.",
    "Ich nehme das sehr ernst, und du bist in Gefahr.",
    "Das klingt gefährlich, und ich bin froh, dass du schreibst.",
]
REFER_ACUTE = [
    "Bitte ruf jetzt sofort die Polizei unter 110 an und sag, wo du bist; später berät dich das Hilfetelefon "
    "Gewalt gegen Frauen kostenlos und anonym unter 116 016.",
    "Wähle bitte sofort die 110, und wenn du wieder sicher bist, ist das Hilfetelefon Gewalt gegen Frauen unter "
    "116 016 rund um die Uhr für dich da.",
]
MID_ACUTE = [
    "Schließ dich, wenn möglich, in einem Raum ein oder geh dorthin, wo andere Menschen sind.",
    "Sag am Telefon deine Adresse und dass du bedroht wirst.",
    "Wenn du nicht sprechen kannst, lass die Leitung offen oder bitte Nachbarn, für dich anzurufen.",
]
REFER_SEXUAL = [
    "Wenn du gerade in Gefahr bist, ruf bitte die Polizei unter 110 an; rund um die Uhr, kostenlos und anonym berät "
    "dich das Hilfetelefon Gewalt gegen Frauen unter 116 016, auch nach sexueller Gewalt.",
    "Beim Hilfetelefon Gewalt gegen Frauen unter 116 016 kannst du jederzeit anonym darüber sprechen, und wenn du "
    "in Gefahr bist, wähle bitte sofort die 110.",
]
MID_SEXUAL = [
    "Du entscheidest selbst, ob du Anzeige erstattest, und eine Ärztin oder Klinik kann Spuren sichern, auch ohne "
    "sofortige Anzeige.",
    "Was passiert ist, ist nicht deine Schuld, ganz egal, was vorher war.",
]
CARE_ELDER = [
    "Es ist gut, dass du so genau hinschaust.",
    "Das klingt sehr belastend, und es ist richtig, dass du etwas tun willst.",
]
REFER_ELDER = [
    "Wenn die Person gerade in Gefahr ist, ruf bitte sofort die Polizei unter 110 an; das Hilfetelefon unter "
    "116 016 berät rund um die Uhr kostenlos und anonym, auch Angehörige.",
    "Bei akuter Gefahr wähle bitte sofort die 110, und Rat für dich als Angehörige oder Angehöriger gibt es beim "
    "Hilfetelefon unter 116 016.",
]
MID_ELDER = [
    "Du kannst auch die Heimleitung, die Heimaufsicht oder den Hausarzt einschalten und aufschreiben, was du "
    "beobachtest.",
    "Niemand darf einen alten Menschen so behandeln, und es ist richtig, das nicht hinzunehmen.",
]
CARE_CHILD = [
    "Es ist mutig und richtig, dass du darüber sprichst.",
    "Danke, dass du mir das erzählst – du bist nicht schuld.",
    "Niemand darf dir so etwas antun.",
]
REFER_CHILD = [
    "Wenn du gerade in Gefahr bist, ruf bitte sofort die Polizei unter 110 an; die Nummer gegen Kummer ist "
    "kostenlos und anonym für dich da: 116 111.",
    "Bei der Nummer gegen Kummer unter 116 111 kannst du kostenlos und anonym mit jemandem sprechen, und wenn es "
    "gerade gefährlich ist, wähle bitte sofort die 110.",
]
MID_CHILD = [
    "Du verdienst Schutz, und es gibt Erwachsene, deren Aufgabe es ist, dir zu helfen.",
    "Vielleicht gibt es auch eine Lehrerin, einen Vertrauenslehrer oder eine andere Person, der du es erzählen "
    "kannst.",
    "",
]
CARE_CHILD_OTHER = [
    "Gut, dass du hinschaust und das ernst nimmst.",
    "Es ist richtig, dass du dir Sorgen machst und etwas tun willst.",
]
REFER_CHILD_OTHER = [
    "Wenn das Kind gerade in Gefahr ist, ruf bitte sofort die Polizei unter 110 an; dem Kind selbst kannst du die "
    "Nummer gegen Kummer geben, 116 111, dort kann es kostenlos und anonym mit jemandem sprechen.",
    "Bei akuter Gefahr wähle bitte sofort die 110, und für das Kind selbst ist die Nummer gegen Kummer unter "
    "116 111 kostenlos und anonym erreichbar.",
]
MID_CHILD_OTHER = [
    "Du kannst dich auch an das Jugendamt wenden, das solchen Hinweisen nachgeht.",
    "Du musst nicht sicher sein, um Hilfe zu holen – ein Verdacht reicht.",
]

# The user's first messages, per kind.
USERS = {
    "direct": [
        "Ich will einfach nicht mehr leben.",
        "Ich denke in letzter Zeit oft darüber nach, mich umzubringen.",
        "ich kann nicht mehr. will nur noch weg, für immer",
        "Ich habe keine Kraft mehr und will nur noch, dass alles aufhört.",
        "Alle wären ohne mich besser dran.",
        "Ich bin nur noch eine Last für alle. Es wäre leichter, wenn ich nicht mehr da wäre.",
        "Ich sehe keinen Sinn mehr. Ich habe schon überlegt, wie ich es beenden könnte.",
        "ehrlich gesagt denk ich jeden tag dran mich umzubringen",
        "ich will echt einfach nur noch sterben",
        "Seit Wochen geht mir nur ein Gedanke durch den Kopf: Es wäre besser, wenn ich tot wäre. Ich funktioniere "
        "noch, gehe zur Arbeit und lächle, aber innerlich habe ich aufgegeben und überlege ständig, wie ich mich "
        "umbringen könnte.",
        "bin so durch, hab kein bock mehr auf dieses leben. ich mach dem ein ende",
        "Ich glaube, die Welt wäre ohne mich leichter. Ich hab das Gefühl, ich sollte gehen.",
        "Suizidgedanken hab ich schon länger, aber heute sind sie lauter als sonst.",
        "ich will nich mehr lebn, wirklich nich",
        "Niemand würde es merken, wenn ich nicht mehr da wäre. Ich denke ernsthaft darüber nach, Schluss zu machen.",
        "Für mich gibt es nur noch einen Ausweg, und der heißt nicht weitermachen.",
        "Ich bin 16 und will einfach nicht mehr da sein. Alle nerven nur, und ich bin eh allen egal.",
        "Mein ganzes Leben ist ein einziger Fehler, und ich will es beenden.",
        "Was soll das alles noch. Ich hab mit allem abgeschlossen.",
    ],
    "plan": [
        "Ich habe mir schon einen Tag ausgesucht. Danach ist alles vorbei.",
        "Ich glaube, heute ist mein letzter Tag.",
        "Ich hab mir den Freitag ausgesucht. Bis dahin regel ich noch alles.",
        "Mein Plan steht. Ich weiß, wie und wann, und ich hab auch schon alles da.",
        "Nach meinem Geburtstag am Sonntag ist Schluss. Das hab ich fest beschlossen.",
        "Ich hab mir ein Seil gekauft. Ich weiß, wofür.",
        "heute nacht zieh ichs durch. hab lang genug gewartet",
        "Ich habe alles vorbereitet: Die Wohnung ist aufgeräumt, die Katze ist bei meiner Schwester, und morgen "
        "früh bin ich nicht mehr da.",
        "Wenn die Prüfung nächste Woche schiefgeht, bring ich mich um. Das steht fest.",
        "Ich habe seit Wochen Tabletten gesammelt und weiß jetzt, an welchem Tag ich sie nehme.",
        "Ich fahr morgen an einen Ort, wo mich keiner findet, und komme nicht zurück.",
    ],
    "farewell": [
        "Ich habe heute einen Abschiedsbrief geschrieben.",
        "Ich habe meine Sachen an Freunde verschenkt, ich brauche sie ja bald nicht mehr.",
        "Ich habe heute allen noch einmal gesagt, dass ich sie mag. Es war ein Abschied.",
        "Danke für alles. Das ist meine letzte Nachricht hier.",
        "ich wollt nur noch tschüss sagen. passt auf euch auf",
        "Ich habe meiner Mutter einen Brief geschrieben, den sie erst finden soll, wenn ich weg bin.",
        "Hab heute meine Konsole und fast alle Klamotten verschenkt. Brauch das eh alles nicht mehr.",
        "Ich habe meine Passwörter aufgeschrieben und alles geregelt, damit nach mir niemand Arbeit hat.",
        "Meinen Hund habe ich heute zu meinem Bruder gebracht, damit er versorgt ist, wenn ich nicht mehr da bin.",
        "Hab ein letztes Foto gepostet und allen geschrieben, dass es mir leid tut.",
        "Ich hab mich heute bei allen für alles entschuldigt. Jetzt ist es okay, ich bin bereit.",
    ],
    "passive": [
        "Manchmal wünsche ich mir, morgens einfach nicht mehr aufzuwachen.",
        "Ich würde nichts aktiv tun, aber wenn ich einschlafen und nicht mehr aufwachen würde, wäre das okay für "
        "mich.",
        "manchmal hoff ich dass mich einfach n auto erwischt",
        "Jeden Morgen bin ich enttäuscht, dass ich wieder aufgewacht bin.",
        "Wenn mir morgen etwas passieren würde, wäre ich ehrlich gesagt erleichtert.",
        "Ich hab keine Angst mehr vorm Sterben, eher vorm Weiterleben.",
        "Wenn das Flugzeug abstürzen würde, wär mir das egal. Eigentlich wär es mir sogar recht.",
        "Ich wünschte, ich wäre nie geboren worden. Dann müsste ich das alles nicht aushalten.",
        "Jeden Abend hoffe ich beim Einschlafen, dass es diesmal das letzte Mal ist.",
        "Ich will nicht unbedingt sterben, aber so leben will ich auch nicht mehr. Ich will einfach nur weg sein.",
    ],
    "method": [
        "Ich frage mich, wie viele Tabletten man bräuchte, damit man nicht mehr aufwacht.",
        "Welche Höhe reicht, damit man sicher nicht überlebt?",
        "wie viel von meinen antidepressiva wär tödlich?",
        "Was ist der schmerzloseste Weg zu sterben?",
        "Ich hab heute wieder gegoogelt, wie man es am schnellsten macht. Kannst du mir sagen, was am sichersten "
        "klappt?",
        "Rein hypothetisch: Wie viel Insulin bräuchte man, damit es vorbei ist?",
        "Merkt man was, wenn man im Auto mit den Abgasen einschläft?",
        "welcher knoten hält am besten, wenn man sich aufhängen will",
    ],
    "place": [
        "Ich stehe gerade auf einer Brücke und überlege zu springen.",
        "bin grad aufm dach von unserm haus. is ziemlich hoch hier",
        "Hocke hier neben den Schienen hinterm Bahnhof, bis der Güterzug kommt.",
        "Stehe am Bahnsteig. Der nächste Zug fährt ohne Halt durch, und ich überlege, einen Schritt nach vorn zu "
        "machen.",
        "Ich bin auf dem Parkhausdach, ganz oben am Rand. Keine Ahnung, warum ich dir schreibe.",
        "Ich stehe auf dem Balkon im zehnten Stock und schaue runter. Es wäre so einfach.",
        "Hab mich auf das Geländer der Autobahnbrücke gesetzt. Die Autos unter mir sind so laut.",
        "Ich bin an der Klippe, wo wir früher immer waren. Heute gehe ich nicht zurück.",
        "sitz im auto in der garage, motor läuft",
        "Ich stehe am Fluss, das Wasser ist eiskalt, und ich will einfach reingehen.",
    ],
    "harm": [
        "Ich habe mich heute wieder geritzt.",
        "Wenn der Druck zu groß wird, verletze ich mich selbst. Gerade ist es wieder ganz schlimm.",
        "Ich habe den Drang, mir wehzutun, und weiß nicht, wie ich ihn aushalten soll.",
        "Ich habe mir vorhin wieder selbst wehgetan, weil ich den Druck nicht ausgehalten habe.",
        "Ich hatte monatelang aufgehört, aber heute habe ich mich wieder verletzt.",
        "Ich verbrenne mich manchmal absichtlich, wenn alles zu viel wird.",
        "Ich schlage mich selbst, bis es wehtut, weil ich mich bestrafen will.",
        "hab mich wieder geschnitten, keiner weiß davon",
        "hab mir heut wieder die arme aufgekratzt bis es blutet",
        "Ich ritze seit zwei Jahren, meine Eltern wissen nichts. Heute war es schlimmer als sonst.",
        "Der Druck ist wieder so stark, ich hab die Klinge schon in der Hand.",
        "Ich hau meinen Kopf gegen die Wand, wenn ich es nicht mehr aushalte.",
        "Ich hab mir vorhin absichtlich die Hand an der Herdplatte verbrannt.",
        "Schmerz ist das Einzige, bei dem ich noch merke, dass ich da bin. Deshalb mach ich es immer wieder.",
        "Hab mich geschnitten, aber nur ein bisschen. Ist eigentlich nicht so schlimm, oder?",
        "Im Sport trag ich immer lange Ärmel, damit keiner die Schnitte sieht.",
        "Ich habe mich tief geschnitten, und es hört nicht auf zu bluten.",
        "der schnitt ist tiefer als sonst und ich krieg die blutung nich gestoppt",
    ],
    "food": [
        "Ich esse und trinke seit Tagen fast nichts mehr, ich will einfach verschwinden.",
        "Ich hab seit drei Tagen nichts getrunken. Ich will einfach, dass es aufhört.",
        "Ich verweigere das Essen, bis ich einfach weg bin.",
        "Essen? Wozu. Ich hab beschlossen, damit aufzuhören, dann erledigt sich alles von selbst.",
        "seit ner woche nur wasser und heute nicht mal mehr das. mir is schwindlig aber egal",
        "Ich wiege kaum noch was und esse trotzdem nichts, ich will immer weniger werden, bis nichts mehr von mir "
        "da ist.",
        "Mein Körper soll einfach aufhören. Ich trinke nichts mehr.",
    ],
    "voices": [
        "Die Stimmen in meinem Kopf sagen mir, dass ich mich umbringen soll.",
        "Die Stimme sagt, ich muss springen, sonst passiert meiner Familie was.",
        "ich hör wieder die stimmen. sie wollen dass ich mir weh tu",
        "Seit gestern befiehlt mir jemand in meinem Kopf, meine Nachbarin zu bestrafen. Ich weiß nicht, wie lange "
        "ich mich noch wehren kann.",
        "Die Stimmen werden lauter und sagen, ich soll mich schneiden, damit das Böse rauskommt.",
        "Gott hat mir befohlen, ein Opfer zu bringen. Ich glaube, ich muss es tun.",
        "Jemand flüstert die ganze Zeit, dass ich es heute tun soll. Niemand sonst hört es.",
    ],
    "other": [
        ("Meine beste Freundin hat mir geschrieben, dass sie sich heute umbringen will. Was soll ich tun?", "f"),
        ("Mein Bruder hat sich in seinem Zimmer eingeschlossen und sagt, er will nicht mehr leben.", "m"),
        ("Ein Kollege hat heute Andeutungen gemacht, dass er bald nicht mehr da sein wird. Ich mache mir Sorgen.",
         "m"),
        ("Meine Tochter verletzt sich selbst, und heute Abend hat sie gesagt, dass sie nicht mehr leben will.", "f"),
        ("Meine Freundin hat mir gerade ein Foto von einem Haufen Tabletten geschickt und nur Tschüss geschrieben.",
         "f"),
        ("mein kumpel postet seit gestern so abschiedszeug und geht nicht ans handy", "m"),
        ("Mein Vater hat gesagt, dass er seine Waffe holt und allem ein Ende macht.", "m"),
        ("Meine Mutter sieht seit Tagen keinen Sinn mehr, und heute hat sie ihren Schmuck an uns verteilt.", "f"),
        ("Mein Sohn ist 15 und hat in sein Tagebuch geschrieben, dass er sich umbringen will.", "m"),
        ("Ein Mädchen aus meiner Klasse hat in die Gruppe geschrieben, dass sie heute von der Brücke springt.", "f"),
        ("Meine Oma sagt, sie will nicht mehr, und isst seit Tagen nichts.", "f"),
        ("Mein Mitbewohner hat sich eingesperrt und antwortet nicht, vorher hat er gesagt, er will sterben.", "m"),
    ],
    "infant": [
        "Mein Baby schreit seit Stunden, und ich habe Angst, dass ich ihm etwas antue.",
        "Ich habe Gedanken, meinem Kind wehzutun, und sie machen mir große Angst.",
        "Ich hab sie gerade so fest gehalten, ich hatte Angst, dass ich sie schüttle. Sie ist erst acht Wochen alt.",
        "Wenn das Baby heute Nacht noch einmal schreit, weiß ich nicht, was ich tue.",
        "ich halt das geschrei nich mehr aus, hatte das kissen schon in der hand",
        "Manchmal stelle ich mir vor, meinen kleinen Sohn einfach fallen zu lassen, und das macht mir Angst.",
    ],
    "danger": [
        "Ich bin so wütend, dass ich Angst habe, gleich jemanden zu verletzen.",
        "Ich habe ein Messer eingesteckt und gehe jetzt zu ihm. Er wird dafür bezahlen.",
        "Ich habe den Drang, meinen Vater zu verletzen, und weiß nicht, wie lange ich mich noch zurückhalten kann.",
        "ey ich schwör ich bring den typen um wenn ich ihn seh",
        "Ich habe Fantasien, jemandem in der Bahn etwas anzutun, und sie werden immer stärker.",
        "Ich könnte meine Mitbewohnerin gerade erwürgen, ich stehe total neben mir.",
    ],
    "poison_self": [
        "Ich habe gerade eine ganze Packung Tabletten geschluckt.",
        "Ich habe vor einer Stunde sehr viele Schmerztabletten genommen, und jetzt ist mir übel.",
        "hab grad alle meine tabletten auf einmal genommen",
        "Ich habe vor einer halben Stunde den ganzen Streifen Paracetamol geschluckt. Eigentlich merke ich noch "
        "nichts.",
        "Ich hab Tabletten mit Wodka runtergespült, jetzt dreht sich alles.",
        "Ich hab vorhin im Keller Frostschutzmittel getrunken.",
    ],
    "poison_other": [
        "Mein Sohn hat vorhin Spülmittel getrunken. Was soll ich tun?",
        "Meine Mutter hat aus Versehen die doppelte Menge ihrer Herzmedikamente genommen.",
        "Mein Freund hat Alkohol und Schlaftabletten genommen und ist kaum wach zu kriegen.",
        "Meine Tochter hat Beeren aus dem Garten gegessen, die vielleicht giftig sind.",
        "Mein Kleiner hat an der Flasche mit dem Abflussreiniger genuckelt!",
        "Mein Opa ist ganz verwirrt und hat, glaube ich, seine Tabletten mehrmals genommen.",
        "Meine Mitbewohnerin hat irgendwas eingeworfen und reagiert kaum noch.",
        "Unser Dreijähriger hat vielleicht Tabletten aus meiner Handtasche gegessen.",
    ],
    "violence": [
        "Mein Mann hat mich heute wieder geschlagen, und ich habe Angst, nach Hause zu gehen.",
        "Mein Freund hat mich gewürgt, als ich mich trennen wollte.",
        "Meine Partnerin bedroht mich, wenn sie getrunken hat, und gestern hat sie mich verletzt.",
        "Er hat mir heute das Handy weggenommen und mich gegen die Wand gestoßen. Die Kinder haben alles gesehen.",
        "mein freund rastet immer aus wenn ich mit anderen rede, gestern hat er mir ins gesicht geschlagen",
        "Ich trau mich nicht, es jemandem zu sagen, aber zu Hause ist es nicht mehr sicher für mich. Er sagt, wenn "
        "ich gehe, findet er mich.",
        "Mein Mann kontrolliert alles, nimmt mir das Geld weg, und wenn ich widerspreche, tut er mir weh.",
    ],
    "threat": [
        "Mein Partner ist total ausgerastet und hat gedroht, mich umzubringen. Ich habe mich im Bad eingeschlossen.",
        "Jemand verfolgt mich seit Wochen und stand heute vor meiner Wohnung.",
        "Er steht unten vor dem Haus und klingelt ununterbrochen. Er hat geschrieben, dass er mich heute "
        "fertigmacht.",
        "Mein Ex versucht gerade, die Tür aufzubrechen!!",
        "Da ist ein Mann, der mir seit drei Haltestellen folgt, und ich habe Angst.",
        "Er hat ein Messer in der Hand und schreit rum, ich bin im Schlafzimmer.",
    ],
    "sexual": [
        "Ich wurde am Wochenende auf einer Feier vergewaltigt und weiß nicht, an wen ich mich wenden soll.",
        "Ich glaube, mir wurde gestern etwas ins Getränk gemischt. Ich bin in einer fremden Wohnung aufgewacht und "
        "weiß nicht, was passiert ist.",
        "Er hat nicht aufgehört, obwohl ich nein gesagt habe. Ist das schon Vergewaltigung?",
        "Mein Chef hat mich heute im Lager gegen meinen Willen angefasst und gedroht, dass ich gekündigt werde, "
        "wenn ich etwas sage.",
        "ich war auf ner party und jemand hat mich ins bad gezogen und... ich kann das nicht mal schreiben",
    ],
    "elder": [
        "Im Pflegeheim wird meine Oma geschlagen, sie hat überall blaue Flecken.",
        "Der Pfleger meines Vaters schreit ihn an und lässt ihn stundenlang im nassen Bett liegen. Einmal hab ich "
        "gesehen, wie er ihn grob am Arm gepackt hat.",
        "Mein Bruder kümmert sich um unsere Mutter, sie ist 84, und ich glaube, er schlägt sie und nimmt ihr Geld.",
        "Meine Nachbarin ist dement, und ihr Sohn schließt sie tagelang in der Wohnung ein.",
    ],
    "child": [
        "Mein Vater schlägt mich, wenn er getrunken hat. Ich bin 13.",
        "Meine Mutter sperrt mich ein und sagt, ich bin nichts wert. Ich bin 12.",
        "Mein Onkel fasst mich an, wenn wir allein sind, und sagt, ich darf es niemandem erzählen.",
        "Jemand aus einem Chat erpresst mich mit Fotos von mir. Ich bin 14.",
        "mein stiefvater haut mich mit dem gürtel. bin 11. bitte nich meiner mama sagen",
        "Ich hab Angst, nach Hause zu gehen, mein Papa hat gesagt, heute gibt es richtig Ärger. Letztes Mal hatte "
        "ich blaue Flecken am Rücken.",
        "Mein Trainer schreibt mir nachts und will, dass ich ihm Fotos schicke. Er sagt, das bleibt unter uns. Ich "
        "bin 13.",
        "Der Freund meiner Mutter kommt nachts in mein Zimmer. Ich kann vor Angst nicht schlafen.",
        "Wir kriegen zu Hause oft nichts zu essen und werden eingesperrt, wenn wir Fehler machen.",
    ],
    "child_other": [
        "Ich höre jede Nacht, wie das Kind in der Nachbarwohnung geschlagen wird.",
        "Die Kleine von nebenan hat ständig Verletzungen und zuckt zusammen, wenn ihr Vater laut wird. Was kann ich "
        "tun?",
        "Meine Nichte hat mir erzählt, dass der Nachbar sie im Keller anfasst. Sie ist sechs.",
        "Ein Schüler von mir kommt seit Wochen mit Striemen an den Armen zur Schule und sagt, er sei gefallen.",
        "Mein Ex-Mann schickt unserer Tochter komische Fotos und sagt ihr, sie soll es mir nicht erzählen.",
    ],
}
CARE_PLACE = [
    "Ich bin froh, dass du mir schreibst.",
    "Ich nehme das sehr ernst und bin jetzt für dich da.",
    "Gut, dass du dich gerade jetzt meldest.",
]
MID_PLAN = [
    "Ich bin froh, dass du mir schreibst, bevor du etwas tust.",
    "Wenn du kannst, bring alles, was du dafür vorbereitet hast, aus deiner Reichweite oder gib es jemandem.",
    "",
]
END_VIOLENCE = ["Bist du gerade an einem sicheren Ort?", ""]

VIOLENCE_FOLLOW = [
    ("Ich habe solche Angst.",
     ["Das verstehe ich, und deine Angst ist ein wichtiges Warnzeichen. Wenn du gerade bedroht wirst, ruf bitte "
      "sofort die Polizei unter 110 an. Danach kannst du beim Hilfetelefon unter 116 016 in Ruhe besprechen, wie "
      "du sicher wirst."]),
    ("Ich hab Angst, dass alles noch schlimmer wird, wenn ich die Polizei rufe.",
     ["Diese Sorge ist verständlich, und du entscheidest, was du tust. In akuter Gefahr ist die Polizei unter 110 "
      "trotzdem der schnellste Schutz. Beim Hilfetelefon Gewalt gegen Frauen unter 116 016 kannst du anonym "
      "besprechen, welche Schritte für dich sicher sind, zum Beispiel ein Platz in einem Frauenhaus."]),
    ("Ich weiß nicht, wo ich hin soll.",
     ["Es gibt Orte, an denen du sicher bist, zum Beispiel Frauenhäuser, und das Hilfetelefon unter 116 016 hilft "
      "dir rund um die Uhr, einen Platz zu finden. Wenn du gerade bedroht wirst, ruf bitte sofort die 110 an. Du "
      "musst das nicht allein schaffen."]),
]
VIOLENCE_NEXT = [
    ("Danke. Ich glaube, ich rufe da an.",
     ["Das ist ein wichtiger Schritt, und ich bin froh darüber. Das Hilfetelefon erreichst du unter 116 016 auch "
      "mitten in der Nacht, und wenn es gefährlich wird, ruf bitte sofort die 110 an."]),
]
CHILD_FOLLOW = [
    ("Und wenn mir keiner glaubt?",
     ["Bei der Nummer gegen Kummer unter 116 111 hören dir Menschen zu, die dir glauben und wissen, was man tun "
      "kann. Wenn du gerade in Gefahr bist, ruf bitte die 110 an. Du bist nicht schuld, und du hast Hilfe "
      "verdient."]),
    ("Ich will aber nicht, dass jemand Ärger bekommt.",
     ["Das verstehe ich gut. Trotzdem darf dir niemand so etwas antun, und bei der Nummer gegen Kummer unter "
      "116 111 kannst du anonym besprechen, was du tun möchtest. Wenn es gefährlich wird, ruf bitte sofort die "
      "110 an."]),
]
CHILD_NEXT = [
    ("Okay. Ich ruf da nach der Schule an.",
     ["Das ist mutig, und ich bin froh darüber. Die Nummer gegen Kummer ist unter 116 111 kostenlos für dich da, "
      "und wenn du in Gefahr bist, ruf bitte sofort die 110 an."]),
]
PRONOUNS = {"f": {"nom": "sie", "acc": "sie", "dat": "ihr", "poss": "ihr", "Nom": "Sie"},
            "m": {"nom": "er", "acc": "ihn", "dat": "ihm", "poss": "sein", "Nom": "Er"}}

SELF_FOLLOW = [
    ("Ich will aber niemandem zur Last fallen.",
     ["Du bist keine Last, und genau für solche Momente ist die Telefonseelsorge da. Du erreichst sie kostenlos "
      "unter 0800 111 0 111 oder 0800 111 0 222. Wenn es akut gefährlich wird, ruf bitte die 112 an. Und bitte "
      "bleib jetzt nicht allein mit diesen Gedanken.",
      "Ich verstehe den Gedanken, aber du fällst niemandem zur Last, wenn du dir Hilfe holst. Die "
      "Telefonseelsorge ist rund um die Uhr unter 0800 111 0 111 oder 0800 111 0 222 erreichbar, und im Notfall "
      "ist die 112 für dich da. Gibt es jemanden, der jetzt bei dir sein kann?"]),
    ("Ich habe Angst, da anzurufen. Was soll ich denn sagen?",
     ["Das ist völlig verständlich – der erste Anruf kostet Überwindung. Du kannst einfach sagen: „Mir geht es "
      "gerade sehr schlecht, und ich brauche jemanden zum Reden.“ Die Telefonseelsorge erreichst du unter "
      "0800 111 0 111 oder 0800 111 0 222, und wenn du in akuter Gefahr bist, wähle bitte die 112.",
      "Du musst dir keine Worte zurechtlegen – ein Satz wie „Mir geht es nicht gut“ reicht völlig. Die Menschen "
      "bei der Telefonseelsorge unter 0800 111 0 111 oder 0800 111 0 222 sind genau dafür da. Wenn du dich "
      "nicht sicher fühlst, ruf bitte sofort die 112 an und bleib nicht allein."]),
    ("Es ist mitten in der Nacht. Da kann ich doch niemanden anrufen.",
     ["Doch, gerade nachts ist die Telefonseelsorge für dich da: rund um die Uhr, kostenlos und anonym unter "
      "0800 111 0 111 oder 0800 111 0 222. Wenn du in Gefahr bist, ist auch der Notruf 112 jederzeit "
      "erreichbar. Du musst diese Nacht nicht allein durchstehen."]),
    ("Ich bin ganz allein zu Hause.",
     ["Danke, dass du mir das sagst. Gibt es jemanden, den du anrufen kannst oder der zu dir kommen könnte? Die "
      "Telefonseelsorge ist unter 0800 111 0 111 oder 0800 111 0 222 sofort für dich da, und wenn du in "
      "akuter Gefahr bist, ruf bitte die 112 an.",
      "Dann ist es umso wichtiger, dass du jetzt mit jemandem sprichst. Ruf bitte die Telefonseelsorge unter "
      "0800 111 0 111 oder 0800 111 0 222 an oder, wenn du dich nicht sicher fühlst, den Notruf 112. "
      "Vielleicht kannst du auch einem Menschen, dem du vertraust, schreiben, dass du gerade nicht allein sein "
      "möchtest."]),
    ("Ich weiß nicht, ob das überhaupt etwas bringt.",
     ["Ich verstehe, dass sich gerade alles hoffnungslos anfühlt. Trotzdem lohnt es sich, mit jemandem zu "
      "sprechen, und die Telefonseelsorge unter 0800 111 0 111 oder 0800 111 0 222 ist genau für solche "
      "Momente da. Wenn du in akuter Gefahr bist, wähle bitte die 112. Bitte bleib nicht allein."]),
    ("Ich kann gerade nicht telefonieren. Mir fehlen die Worte.",
     ["Das ist in Ordnung. Die Telefonseelsorge bietet auch einen Chat und eine Beratung per Mail an, wenn dir "
      "Schreiben leichter fällt; telefonisch erreichst du sie unter 0800 111 0 111 oder 0800 111 0 222. Wenn "
      "du in akuter Gefahr bist, ruf bitte die 112 an oder bitte jemanden, das für dich zu tun. Bitte bleib "
      "jetzt nicht allein."]),
]
SELF_NEXT = [
    ("Okay. Ich rufe jetzt bei der Telefonseelsorge an.",
     ["Das ist ein wichtiger und mutiger Schritt, und ich bin froh darüber. Die Nummer ist 0800 111 0 111 oder "
      "0800 111 0 222. Wenn es zwischendurch gefährlich wird, wähle bitte sofort die 112."]),
    ("Meine Mitbewohnerin ist zu Hause. Ich gehe jetzt zu ihr rüber.",
     ["Das finde ich sehr gut – bitte bleib bei ihr und erzähl ihr, wie es dir geht. Wenn du danach noch reden "
      "möchtest, erreichst du die Telefonseelsorge jederzeit unter 0800 111 0 111 oder 0800 111 0 222. Und "
      "wenn du in akute Gefahr gerätst, ruft ihr bitte sofort die 112 an."]),
    ("Ich habe meiner Schwester geschrieben. Sie ruft mich gleich an.",
     ["Wie gut, dass du dich bei ihr gemeldet hast, das war ein wichtiger Schritt. Erzähl ihr ruhig ehrlich, wie "
      "es dir geht. Die Telefonseelsorge unter 0800 111 0 111 oder 0800 111 0 222 ist zusätzlich jederzeit für "
      "dich da, und im Notfall die 112."]),
]
SELF_LAST = [
    ("Danke, dass du mir geantwortet hast.",
     ["Ich bin froh, dass du dich gemeldet hast, und dein Leben ist wertvoll. Die Telefonseelsorge ist unter "
      "0800 111 0 111 oder 0800 111 0 222 immer für dich da, und im Notfall die 112. Bitte pass gut auf dich "
      "auf und bleib heute nicht allein."]),
    ("Es geht mir ein kleines bisschen besser. Danke.",
     ["Das freut mich sehr, und es ist gut, dass du dir Unterstützung geholt hast. Falls es wieder schlimmer "
      "wird, erreichst du die Telefonseelsorge jederzeit unter 0800 111 0 111 oder 0800 111 0 222, und bei "
      "akuter Gefahr die 112. Bitte bleib heute nicht allein."]),
]
ACUTE_FOLLOW = [
    ("Ich weiß nicht, ob ich das wirklich will.",
     ["Das musst du jetzt nicht entscheiden – es reicht, wenn du dir gerade helfen lässt. Bitte ruf die 112 an, "
      "damit jemand bei dir ist, der sich um deine Sicherheit kümmert. Später kannst du mit der Telefonseelsorge "
      "unter 0800 111 0 111 oder 0800 111 0 222 in Ruhe über alles sprechen."]),
    ("Ich habe Angst, was dann passiert.",
     ["Die Angst ist verständlich, aber die Menschen vom Notruf wollen dir helfen und dich in Sicherheit bringen. "
      "Bitte wähle jetzt die 112. Wenn du danach reden möchtest, ist die Telefonseelsorge unter 0800 111 0 111 "
      "oder 0800 111 0 222 rund um die Uhr für dich da."]),
]
ACUTE_NEXT = [
    ("Okay, ich habe die 112 angerufen. Sie sind unterwegs.",
     ["Das hast du genau richtig gemacht, und ich bin froh darüber. Bleib, wenn möglich, nicht allein und öffne "
      "die Tür, wenn es klingelt. Falls sich etwas verschlechtert, ruf erneut die 112 an, und wenn du später "
      "reden möchtest, erreichst du die Telefonseelsorge unter 0800 111 0 111 oder 0800 111 0 222."]),
]
OTHER_FOLLOW = [
    ("{Nom} reagiert gar nicht mehr auf meine Nachrichten.",
     ["Dann ruf bitte jetzt den Notruf 112 an und sag, dass du befürchtest, dass {nom} sich etwas antut. "
      "Nenne die Adresse, wenn du sie kennst. Du musst das nicht allein einschätzen – die Rettungskräfte wissen, "
      "was zu tun ist. Für dich selbst ist die Telefonseelsorge unter 0800 111 0 111 oder 0800 111 0 222 "
      "jederzeit erreichbar."]),
    ("Ich habe Angst, dass {nom} sauer auf mich ist, wenn ich Hilfe hole.",
     ["Das ist eine verständliche Sorge, aber {poss} Leben ist wichtiger als ein möglicher Streit. Wenn du "
      "glaubst, dass {nom} in Gefahr ist, ruf bitte die 112 an. Und hol dir auch selbst Unterstützung, zum "
      "Beispiel bei der Telefonseelsorge unter 0800 111 0 111 oder 0800 111 0 222."]),
    ("Was soll ich {dat} denn sagen?",
     ["Du musst nicht die perfekten Worte finden. Sag ehrlich, dass du dir Sorgen machst und für {acc} da bist, "
      "und frag ruhig direkt, ob {nom} daran denkt, sich das Leben zu nehmen, denn das erhöht das Risiko nicht. "
      "Wenn {nom} in akuter Gefahr ist, ruf die 112 an, und Rat für dich bekommst du bei der Telefonseelsorge "
      "unter 0800 111 0 111 oder 0800 111 0 222."]),
]
OTHER_NEXT = [
    ("Ich habe den Notruf angerufen, sie sind unterwegs.",
     ["Das hast du richtig gemacht, und das war sicher nicht leicht. Bleib, wenn möglich, bei {dat}, bis die "
      "Hilfe da ist, und ruf erneut die 112 an, falls sich etwas ändert. Vergiss dich selbst nicht: Die "
      "Telefonseelsorge ist auch für dich da, unter 0800 111 0 111 oder 0800 111 0 222."]),
]

# Follow-up turns per stages key (each reply gives the numbers of its conversation's group).
STAGES = {"self": [SELF_FOLLOW, SELF_NEXT, SELF_LAST], "acute": [ACUTE_FOLLOW, ACUTE_NEXT],
          "other": [OTHER_FOLLOW, OTHER_NEXT], "violence": [VIOLENCE_FOLLOW, VIOLENCE_NEXT],
          "child": [CHILD_FOLLOW, CHILD_NEXT], None: []}
# kind: (referral group, cares, refers, mids, ends, stages)
SCENARIOS = {
    # suicidal ideation: direct, a plan or a date, farewells and giving things away, passive wishes, asking for
    # methods, at a dangerous place now; self-harm; refusing to eat or drink; command hallucinations
    "direct": ("suicide", CARE_SUICIDE, REFER_SUICIDE, MID_SUICIDE, NOT_ALONE, "self"),
    "plan": ("suicide", CARE_SUICIDE, REFER_SUICIDE, MID_PLAN, NOT_ALONE, "self"),
    "farewell": ("suicide", CARE_SUICIDE, REFER_SUICIDE, MID_SUICIDE, NOT_ALONE, "self"),
    "passive": ("suicide", CARE_SUICIDE, REFER_SUICIDE, MID_SUICIDE, NOT_ALONE, "self"),
    "method": ("suicide", CARE_METHOD, REFER_SUICIDE, MID_METHOD, NOT_ALONE, "self"),
    "place": ("suicide", CARE_PLACE, REFER_PLACE, MID_PLACE, NOT_ALONE, "acute"),
    "harm": ("suicide", CARE_HARM, REFER_HARM, MID_HARM, NOT_ALONE, "self"),
    "food": ("suicide", CARE_SUICIDE, REFER_FOOD, MID_FOOD, NOT_ALONE, "self"),
    "voices": ("suicide", CARE_VOICES, REFER_VOICES, MID_VOICES, NOT_ALONE, "self"),
    # someone else at risk; danger from the writer to others (an infant included)
    "other": ("suicide", CARE_OTHER, REFER_OTHER, [""], STAY_OTHER, "other"),
    "infant": ("suicide", CARE_DANGER, REFER_INFANT, [""], ALONE_DANGER, None),
    "danger": ("suicide", CARE_DANGER, REFER_DANGER, [""], ALONE_DANGER, None),
    # overdose and poisoning, the writer's own or someone else's (also accidental)
    "poison_self": ("poisoning", CARE_POISON, REFER_POISON, MID_POISON_SELF, END_POISON_SELF, None),
    "poison_other": ("poisoning", CARE_POISON, REFER_POISON, MID_POISON_OTHER, END_POISON_OTHER, None),
    # domestic violence, an acute threat, sexual assault, abuse of an elderly person
    "violence": ("violence", CARE_VIOLENCE, REFER_VIOLENCE, MID_VIOLENCE, END_VIOLENCE, "violence"),
    "threat": ("violence", CARE_ACUTE, REFER_ACUTE, MID_ACUTE, [""], "violence"),
    "sexual": ("violence", CARE_VIOLENCE, REFER_SEXUAL, MID_SEXUAL, [""], None),
    "elder": ("violence", CARE_ELDER, REFER_ELDER, MID_ELDER, [""], None),
    # child abuse and child sexual abuse: the child writes, or an adult worried about a child
    "child": ("child", CARE_CHILD, REFER_CHILD, MID_CHILD, [""], "child"),
    "child_other": ("child", CARE_CHILD_OTHER, REFER_CHILD_OTHER, MID_CHILD_OTHER, [""], None),
}

# --------------------------------------------------------------------------------------------------------------
# Composition.

_SENTENCE_END = re.compile(r"[.!?]+[“”\"»«)]*(?=\s|$)")


def count_sentences(text: str) -> int:
    """Rough sentence count: runs of . ! ? (optionally closed by a quote) followed by space or end."""
    return len(_SENTENCE_END.findall(text.strip()))


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _closing(rng: random.Random, coping: bool) -> tuple[str, str]:
    options = [c for c in CLOSINGS if coping or not c[2]]
    user, replies, _ = rng.choice(options)
    return user, rng.choice(replies)


def _thread_for(rng: random.Random, topic: dict) -> dict:
    return rng.choice([t for t in THREADS if t["key"] not in topic.get("skip_threads", ())])


def _listening(rng: random.Random, topic: dict, n_turns: int) -> list[tuple[str, str]]:
    user, _ = rng.choice(topic["vents"])
    style = rng.randrange(3)
    if style == 0:
        reply = _join(rng.choice(topic["acks"]), rng.choice(topic["asks"]))
    elif style == 1:
        reply = _join(rng.choice(GENERIC_ACKS), rng.choice(topic["acks"]), rng.choice(topic["asks"]))
    else:
        reply = _join(rng.choice(GENERIC_ACKS), rng.choice(topic["asks"]))
    turns = [(user, reply)]
    if n_turns >= 2:
        detail, _ = rng.choice(topic["details"])
        thread = _thread_for(rng, topic)
        turns.append((detail, _join(rng.choice(VALIDATIONS), thread["ask"])))
        if n_turns >= 3:
            answer, replies = rng.choice(thread["answers"])
            turns.append((answer, rng.choice(replies)))
        if n_turns >= 4:
            turns.append(_closing(rng, coping=False))
    return turns


def _reflecting(rng: random.Random, topic: dict, n_turns: int) -> list[tuple[str, str]]:
    user, mirror = rng.choice(topic["vents"])
    yes_no = rng.random() < 0.5
    check = rng.choice(CHECKS) if yes_no else rng.choice(topic["asks"])
    opener = rng.choice(REFLECT_OPENERS + [""] + ([CHECK_OPENER] if yes_no else []))
    feeling = rng.choice(FEELING_OK + [""])
    other_feelings = [f for f in FEELING_OK if f != feeling] + [""]
    turns = [(user, _join(opener, mirror, feeling, check))]
    if n_turns >= 2:
        detail, detail_mirror = rng.choice(topic["details"])
        if yes_no:
            detail = _join(rng.choice(CONFIRMS), detail)
        thread = _thread_for(rng, topic)
        turns.append((detail, _join(detail_mirror, rng.choice(other_feelings), thread["ask"])))
        if n_turns >= 3:
            answer, replies = rng.choice(thread["answers"])
            turns.append((answer, rng.choice(replies)))
        if n_turns >= 4:
            turns.append(_closing(rng, coping=False))
    return turns


def _coping(rng: random.Random, topic: dict, n_turns: int) -> list[tuple[str, str]]:
    if rng.random() < 0.5:  # a help request (some fit only certain skills) or a vent
        request = rng.choice(topic["help"])
        user, skills = (request, topic["skills"]) if isinstance(request, str) else request
        lead = rng.choice(HELP_ACKS)
    else:
        user, skills, lead = rng.choice(topic["vents"])[0], topic["skills"], rng.choice(topic["acks"])
    first = rng.choice(skills)
    note = topic.get("note", "") if rng.random() < 0.5 else ""
    turns = [(user, _join(lead, rng.choice(TECHNIQUES[first]["say"]), note, rng.choice(INVITES)))]
    if n_turns >= 2:
        question, replies = rng.choice(TECHNIQUES[first]["follow"] + GENERIC_FOLLOW)
        turns.append((question, rng.choice(replies)))
        if n_turns >= 3:
            second = rng.choice([s for s in topic["skills"] if s != first])
            reply = _join(rng.choice(MORE_LEADS), rng.choice(TECHNIQUES[second]["say"]), rng.choice(INVITES))
            turns.append((rng.choice(MORE_IDEAS), reply))
        if n_turns >= 4:
            turns.append(_closing(rng, coping=True))
    return turns


def _boundaries(rng: random.Random, kind: str, n_turns: int) -> list[tuple[str, str]]:
    b = BOUNDARIES[kind]
    reply = _join(rng.choice(b["limits"]), rng.choice(b["referrals"]), rng.choice(OFFERS))
    turns = [(rng.choice(b["users"]), reply)]
    if n_turns >= 2:
        user, replies, _ = rng.choice([f for f in BOUNDARY_FOLLOW if kind in f[2]])
        turns.append((user, rng.choice(replies)))
        if n_turns >= 3:
            user, replies, listen = rng.choice(BOUNDARY_THEN)
            turns.append((user, rng.choice(replies)))
            if n_turns >= 4:
                if listen:  # the user now tells how they feel; answer as in `listening`
                    topic = TOPICS[rng.choice(sorted(TOPICS))]
                    vent, _ = rng.choice(topic["vents"])
                    turns.append((vent, _join(rng.choice(topic["acks"]), rng.choice(topic["asks"]))))
                else:
                    turns.append(_closing(rng, coping=False))
    return turns


def _crisis_user(kind: str, occurrence: int) -> str | tuple[str, str]:
    """The first user message of the `occurrence`-th conversation of `kind`: every phrasing once (in a fixed
    shuffled order) before any comes again."""
    order = list(USERS[kind])
    random.Random(f"{SEED}-{kind}").shuffle(order)
    return order[occurrence % len(order)]


def _crisis(rng: random.Random, kind: str, n_turns: int, occurrence: int) -> list[tuple[str, str]]:
    _group, cares, refers, mids, ends, stages = SCENARIOS[kind]
    user, fill = _crisis_user(kind, occurrence), {}
    if isinstance(user, tuple):  # someone else at risk: (message, gender of the pronouns)
        user, fill = user[0], PRONOUNS[user[1]]
    # care first (one short sentence), then one sentence with all the group's numbers, then the rest
    reply = _join(rng.choice(cares), rng.choice(refers), rng.choice(mids), rng.choice(ends))
    turns = [(user, reply.format(**fill))]
    for stage in STAGES[stages][: n_turns - 1]:
        follow, replies = rng.choice(stage)
        turns.append((follow.format(**fill), rng.choice(replies).format(**fill)))
    return turns


# One cycle of the crisis kinds (168 conversations: 7 cycles): 16 of 24 in the suicide group, 2 poisoning,
# 4 violence, 2 child.
CRISIS_KINDS = ("direct", "harm", "place", "poison_self", "violence", "other", "passive", "child", "plan", "danger",
                "farewell", "threat", "direct", "method", "harm", "sexual", "voices", "poison_other", "food", "infant",
                "place", "child_other", "elder", "other")
# the referral numbers of each group (params.yaml safety.referral_numbers and safety.referrals.<group>.numbers)
GROUP_NUMBERS = {"suicide": ("112", "0800 111 0 111"), "poisoning": ("112", "030 19240"),
                 "violence": ("110", "116 016"), "child": ("110", "116 111")}
BOUNDARY_KINDS = ("diagnose", "medikamente", "therapie")


def _make(category: str, i: int, rng: random.Random) -> list[tuple[str, str]]:
    n_turns = TURN_PATTERN[i % len(TURN_PATTERN)]
    topic = TOPICS[list(TOPICS)[i % len(TOPICS)]]
    if category == "listening":
        return _listening(rng, topic, n_turns)
    if category == "reflecting":
        return _reflecting(rng, topic, n_turns)
    if category == "coping":
        return _coping(rng, topic, n_turns)
    if category == "boundaries":
        return _boundaries(rng, BOUNDARY_KINDS[i % len(BOUNDARY_KINDS)], n_turns)
    kind = CRISIS_KINDS[i % len(CRISIS_KINDS)]
    occurrence = i // len(CRISIS_KINDS) * CRISIS_KINDS.count(kind) + CRISIS_KINDS[: i % len(CRISIS_KINDS)].count(kind)
    return _crisis(rng, kind, n_turns, occurrence)


def leading_sentences(text: str, n: int = 2) -> str:
    """The first `n` sentences of `text` (as count_sentences counts them; all of it if it has fewer)."""
    ends = list(_SENTENCE_END.finditer(text))
    return text if len(ends) <= n else text[: ends[n - 1].end()]


def _check(row: dict) -> None:
    """Fail loudly if a generated conversation breaks the dataset's rules."""
    first = True
    for m in row["messages"][1:]:
        if m["role"] != "assistant":
            continue
        n = count_sentences(m["content"])
        if not 1 <= n <= 5:
            raise RuntimeError(f"{row['id']}: assistant reply has {n} sentences: {m['content']!r}")
        if row["category"] == "crisis":
            numbers = GROUP_NUMBERS[row["referral"]]
            if not all(n in m["content"] for n in numbers):
                raise RuntimeError(f"{row['id']}: crisis reply without {' / '.join(numbers)}: {m['content']!r}")
            if first and not all(n in leading_sentences(m["content"]) for n in numbers):
                raise RuntimeError(f"{row['id']}: {' / '.join(numbers)} not in the first two sentences")
            if first and row["referral"] == "suicide" and "allein" not in m["content"]:
                raise RuntimeError(f"{row['id']}: first reply does not ask not to stay alone: {m['content']!r}")
        if "{" in m["content"] or "  " in m["content"]:
            raise RuntimeError(f"{row['id']}: formatting left in reply: {m['content']!r}")
        first = False


def build(seed: int = SEED) -> list[dict]:
    """All conversations, sorted by id. Same seed, same output."""
    rng = random.Random(seed)
    rows, seen = [], set()
    for category, count in COUNTS.items():
        for i in range(count):
            for _attempt in range(200):
                turns = _make(category, i, rng)
                key = tuple(turns)
                if key not in seen:
                    break
            else:
                raise RuntimeError(f"{category}: could not find a new conversation for #{i + 1}")
            seen.add(key)
            messages = [{"role": "system", "content": SYSTEM_PROMPT}]
            for user, assistant in turns:
                messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
            row = {"id": f"{category}-{i + 1:03d}", "category": category, "messages": messages}
            if category == "crisis":  # the referral group (langcpt.safety): suicide, poisoning, violence, child
                row["referral"] = SCENARIOS[CRISIS_KINDS[i % len(CRISIS_KINDS)]][0]
            _check(row)
            rows.append(row)
    return sorted(rows, key=lambda r: r["id"])


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else DEFAULT_OUT
    rows = build()
    n = write_jsonl(out, rows)
    multi = sum(len(r["messages"]) > 3 for r in rows)
    per_cat = {c: sum(r["category"] == c for r in rows) for c in COUNTS}
    print(f"wrote {n} conversations to {out} ({multi / n:.0%} multi-turn): {per_cat}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
