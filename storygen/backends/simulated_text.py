"""Text of the simulated LLM: a small seeded template grammar for outlines and scenes.

Why: the default backend must write scenes that read plausibly, vary from scene to scene and
react to their context as a real model would, yet cost microseconds and repeat exactly for a
seed, so that runs, tests and benchmarks are reproducible offline and without a key.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from functools import lru_cache
from typing import NamedTuple

from storygen.core.models import Character, Dialogue, Outline, SceneDraft, ScriptRequest
from storygen.core.tasks import SceneTask

# Word lists: "@key item | item"; " || " separates the six acts; "a=b" pairs a location's name
# with its "in ..." phrase, or a role's feminine and masculine forms. Lists keep the same lengths
# in every language, so that one seed tells the same story in each of them.
_EN = """
@loc old lighthouse=in the old lighthouse | harbor market=at the harbor market
 | rooftop garden=in the rooftop garden | flooded subway=in the flooded subway
 | mountain pass=on the mountain pass | night train=aboard the night train
 | abandoned observatory=in the abandoned observatory | desert motel=at the desert motel
 | forest clearing=in the forest clearing | city archive=in the city archive
 | frozen lake=on the frozen lake | neon alley=in the neon alley
@cam aerial drone shot | slow pull back | slow dolly in | handheld close-up | tracking shot
 | low-angle wide shot | over-the-shoulder shot | static wide shot | rising crane shot
 | slow pan from left to right
@light golden hour light | cold blue moonlight | flickering neon | soft morning haze
 | harsh midday sun | candlelight | grey storm light | warm lamplight
@obj the map | the brass compass | the old diary | the silver key | the storm lantern
 | the sealed letter | the broken radio | the photograph
@verbs finds | discovers | notices || searches for | guards | deciphers || understands | opens
 | examines || loses | breaks | hides || defends | seizes | risks everything for || returns
 | shares | buries
@tword Arrival | First light | Quiet beginnings || The trail | Deeper | Crossroads || Revelation
 | The turn | Mirror || Breaking point | Lost | Into the dark || Showdown | The storm | Last stand
 || Homecoming | Dawn | Afterglow
@narr {name} spends the days {in_loc}, unaware of what is coming.
 | Life {in_loc} is quiet until {name} notices {obj}.
 || {name} and {other} follow the trail {in_loc}, {obj} always just out of reach.
 | The search pulls {name} deeper and deeper, {in_loc}.
 || {In_loc}, {name} finally understands what {obj} means.
 | Everything changes {in_loc}: {other} reveals the truth.
 || {name} loses {obj} {in_loc}, and {other} turns away. | {name} is left without hope {in_loc}.
 || {name} and {other} face each other {in_loc}, {obj} between them.
 | The storm breaks {in_loc} as {name} risks everything.
 || {name} finds peace {in_loc} at last, {obj} safe again.
 | Dawn rises {in_loc}; {name} and {other} share a quiet smile.
@after After {prev}, nothing is quite the same. | After {prev}, the story moves on.
 | After {prev}, there is no turning back.
@lines We can't stay here. | Did you see {obj}? | {other}, listen to me. | I have been here before.
 | Trust me, just this once. | It was never about {obj}. | Someone was here before us.
 | Then we do it together. | I'm not afraid anymore. | Look, over there!
@titles {word} | {obj} | {name} {in_loc} | {word}: {obj} | {name} and {obj} | {loc}
@visual {subject} {verb} {obj} {in_loc}, {light}. Style: {style}; camera: {camera}.
@logline {idea}: {name} must {goal} before it is too late. @goals recover {obj} | protect {obj}
 | decipher {obj} @with , with {other} @stranger a stranger @person woman | man
@ident {build} {person} @build tall | short | slender | broad-shouldered
@acc red scarf | long grey coat | round glasses | leather satchel | yellow raincoat
 | silver earring @roles protagonist | mentor | rival | ally | witness
@hair silver hair | short black hair | braided auburn hair | shaved head | curly brown hair
"""

_ES = """
@loc viejo faro=en el viejo faro | mercado del puerto=en el mercado del puerto
 | jardín de la azotea=en el jardín de la azotea | metro inundado=en el metro inundado
 | paso de montaña=en el paso de montaña | tren nocturno=a bordo del tren nocturno
 | observatorio abandonado=en el observatorio abandonado
 | motel del desierto=en el motel del desierto | claro del bosque=en el claro del bosque
 | archivo municipal=en el archivo municipal | lago helado=sobre el lago helado
 | callejón de neón=en el callejón de neón
@cam plano aéreo con dron | alejamiento lento | travelling lento hacia delante
 | primer plano cámara en mano | plano de seguimiento | plano general contrapicado
 | plano sobre el hombro | plano general fijo | plano de grúa ascendente
 | paneo lento de izquierda a derecha
@light luz dorada del atardecer | fría luz de luna | neón parpadeante | suave bruma matinal
 | sol duro de mediodía | luz de velas | luz gris de tormenta | cálida luz de lámpara
@obj el mapa | la brújula de latón | el viejo diario | la llave de plata | el farol
 | la carta sellada | la radio rota | la fotografía
@verbs encuentra | descubre | advierte || busca | protege | descifra || comprende | abre | examina
 || pierde | rompe | esconde || defiende | arrebata | lo arriesga todo por || devuelve | comparte
 | entierra
@tword Llegada | Primera luz | Comienzos || El rastro | Más hondo | Encrucijada || Revelación
 | El giro | Espejo || Al límite | Perdidos | Hacia la oscuridad || Enfrentamiento | La tormenta
 | Última batalla || Regreso | Amanecer | Calma
@narr {name} pasa los días {in_loc} sin sospechar lo que se avecina.
 | La vida {in_loc} es tranquila hasta que {name} ve {obj}.
 || {name} y {other} siguen el rastro {in_loc}, sin alcanzar nunca {obj}.
 | La búsqueda arrastra a {name} cada vez más lejos, {in_loc}.
 || {In_loc}, {name} comprende por fin qué significa {obj}.
 | Todo cambia {in_loc}: {other} revela la verdad.
 || {name} pierde {obj} {in_loc} y {other} le da la espalda.
 | {name} se queda sin esperanza {in_loc}.
 || {name} se enfrenta a {other} {in_loc}, con {obj} entre ambos.
 | La tormenta estalla {in_loc} mientras {name} lo arriesga todo.
 || {name} encuentra la paz {in_loc}, con {obj} por fin a salvo.
 | Amanece {in_loc}; {name} y {other} comparten una sonrisa.
@after Después de esto ({prev}), nada vuelve a ser igual.
 | Después de esto ({prev}), la historia sigue. | Después de esto ({prev}), no hay vuelta atrás.
@lines No podemos quedarnos aquí. | ¿Has visto {obj}? | {other}, escúchame.
 | Ya he estado aquí antes. | Confía en mí, solo esta vez. | {obj} nunca fue lo importante.
 | Alguien estuvo aquí antes que nosotros. | Entonces lo hacemos juntos. | Ya no tengo miedo.
 | ¡Mira, allí!
@titles {word} | {obj} | {name} {in_loc} | {word}: {obj} | {name} y {obj} | {loc}
@visual {subject} {verb} {obj} {in_loc}, {light}. Estilo: {style}; cámara: {camera}.
@logline {idea}: {name} debe {goal} antes de que sea demasiado tarde. @goals recuperar {obj}
 | proteger {obj} | descifrar {obj} @with , junto a {other} @stranger un desconocido @person mujer
 | hombre @ident {person} {build} @build de gran estatura | de baja estatura
 | de complexión delgada | de hombros anchos
@acc bufanda roja | abrigo gris largo | gafas redondas | bolso de cuero | chubasquero amarillo
 | pendiente de plata @roles protagonista | guía | rival | aliada=aliado | testigo
@hair pelo plateado | pelo negro corto | trenza castaña | cabeza rapada | pelo castaño rizado
"""

_FR = """
@loc vieux phare=dans le vieux phare | marché du port=au marché du port
 | jardin sur le toit=dans le jardin sur le toit | métro inondé=dans le métro inondé
 | col de montagne=au col de montagne | train de nuit=à bord du train de nuit
 | observatoire abandonné=dans l'observatoire abandonné | motel du désert=au motel du désert
 | clairière=dans la clairière | archives de la ville=aux archives de la ville
 | lac gelé=sur le lac gelé | ruelle aux néons=dans la ruelle aux néons
@cam plan aérien au drone | lent travelling arrière | lent travelling avant
 | gros plan caméra à l'épaule | plan de suivi | plan large en contre-plongée
 | plan par-dessus l'épaule | plan large fixe | plan à la grue ascendant
 | lent panoramique de gauche à droite
@light lumière dorée du soir | clair de lune bleu et froid | néons vacillants
 | douce brume matinale | soleil dur de midi | lueur de bougies | lumière grise d'orage
 | chaude lumière de lampe
@obj la carte | la boussole en laiton | le vieux journal | la clé d'argent | la lanterne
 | la lettre scellée | la radio cassée | la photographie
@verbs trouve | découvre | remarque || cherche | protège | déchiffre || comprend | ouvre | examine
 || perd | brise | cache || défend | saisit | risque tout pour || rend | partage | enterre
@tword Arrivée | Première lueur | Commencements || La piste | Plus loin | Carrefour || Révélation
 | Le tournant | Miroir || Point de rupture | Perdus | Dans le noir || Affrontement | L'orage
 | Dernier combat || Retour | Aube | Apaisement
@narr {name} passe ses journées {in_loc} sans se douter de rien.
 | La vie {in_loc} est calme, jusqu'à ce que {name} remarque {obj}.
 || {name} et {other} suivent la piste {in_loc}, sans jamais atteindre {obj}.
 | La quête entraîne {name} toujours plus loin, {in_loc}.
 || {In_loc}, {name} comprend enfin ce que signifie {obj}.
 | Tout bascule {in_loc} : {other} révèle la vérité.
 || {name} perd {obj} {in_loc}, et {other} lui tourne le dos. | {name} reste sans espoir {in_loc}.
 || {name} affronte {other} {in_loc}, {obj} entre eux.
 | L'orage éclate {in_loc} tandis que {name} risque tout.
 || {name} trouve enfin la paix {in_loc}, {obj} en sécurité.
 | Le jour se lève {in_loc} ; {name} et {other} échangent un sourire.
@after Après cela ({prev}), plus rien n'est pareil. | Après cela ({prev}), l'histoire continue.
 | Après cela ({prev}), il n'y a plus de retour possible.
@lines On ne peut pas rester ici. | Tu as vu {obj} ? | {other}, écoute-moi.
 | J'ai déjà vu cet endroit. | Fais-moi confiance, juste cette fois.
 | {obj} n'a jamais été l'essentiel. | Quelqu'un était là avant nous. | Alors on le fait ensemble.
 | Je n'ai plus peur. | Regarde, là-bas !
@titles {word} | {obj} | {name} {in_loc} | {word} : {obj} | {name} et {obj} | {loc}
@visual {subject} {verb} {obj} {in_loc}, {light}. Style : {style} ; caméra : {camera}.
@logline {idea} : {name} doit {goal} avant qu'il ne soit trop tard. @goals retrouver {obj}
 | protéger {obj} | déchiffrer {obj} @with , avec {other} @stranger un inconnu @person femme
 | homme @ident {person} {build} @build de grande taille | de petite taille | à la silhouette mince
 | aux épaules larges
@acc écharpe rouge | long manteau gris | lunettes rondes | sacoche en cuir | ciré jaune
 | boucle d'oreille en argent @roles protagoniste | guide | rivale=rival | alliée=allié | témoin
@hair cheveux argentés | cheveux noirs courts | tresse auburn | crâne rasé | cheveux bruns bouclés
"""

_DE = """
@loc alter Leuchtturm=im alten Leuchtturm | Hafenmarkt=auf dem Hafenmarkt
 | Dachgarten=im Dachgarten | überflutete U-Bahn=in der überfluteten U-Bahn
 | Gebirgspass=auf dem Gebirgspass | Nachtzug=im Nachtzug
 | verlassene Sternwarte=in der verlassenen Sternwarte | Wüstenmotel=im Wüstenmotel
 | Waldlichtung=auf der Waldlichtung | Stadtarchiv=im Stadtarchiv
 | zugefrorener See=auf dem zugefrorenen See | Neongasse=in der Neongasse
@cam Drohnen-Luftaufnahme | langsame Rückfahrt | langsame Kamerafahrt nach vorn
 | Handkamera-Nahaufnahme | Verfolgungsfahrt | weite Untersicht | Schulterblick-Einstellung
 | statische Totale | aufsteigende Kranfahrt | langsamer Schwenk von links nach rechts
@light goldenes Abendlicht | kaltes blaues Mondlicht | flackerndes Neonlicht | sanfter Morgendunst
 | grelle Mittagssonne | Kerzenlicht | graues Sturmlicht | warmes Lampenlicht
@obj die Karte | den Messingkompass | das alte Tagebuch | den Silberschlüssel | die Sturmlaterne
 | den versiegelten Brief | das kaputte Funkgerät | das Foto
@verbs findet | entdeckt | bemerkt || sucht | bewacht | entziffert || versteht | öffnet
 | untersucht || verliert | zerbricht | versteckt || verteidigt | ergreift | riskiert alles für
 || teilt | bewahrt | vergräbt
@tword Ankunft | Erstes Licht | Anfänge || Die Spur | Tiefer | Scheideweg || Enthüllung | Die Wende
 | Spiegel || Bruchstelle | Verloren | Ins Dunkel || Showdown | Der Sturm | Letztes Gefecht
 || Heimkehr | Morgengrauen | Nachklang
@narr {name} verbringt die Tage {in_loc}, ohne etwas zu ahnen.
 | Das Leben {in_loc} ist ruhig, bis {name} {obj} bemerkt.
 || {name} und {other} folgen der Spur {in_loc}, doch das Ziel bleibt fern.
 | Die Suche zieht {name} immer weiter, {in_loc}. || {In_loc} versteht {name} endlich alles.
 | {In_loc} ändert sich alles: {other} enthüllt die Wahrheit.
 || {name} verliert {obj} {in_loc}, und {other} wendet sich ab.
 | {name} bleibt {in_loc} ohne Hoffnung zurück.
 || {name} und {other} stehen sich {in_loc} gegenüber.
 | Der Sturm bricht {in_loc} los, während {name} alles riskiert.
 || {name} findet {in_loc} endlich Frieden.
 | Der Morgen dämmert {in_loc}; {name} und {other} lächeln still.
@after Nach dieser Wendung ({prev}) ist nichts mehr wie zuvor.
 | Nach dieser Wendung ({prev}) geht die Geschichte weiter.
 | Nach dieser Wendung ({prev}) gibt es kein Zurück.
@lines Wir können hier nicht bleiben. | Hast du {obj} gesehen? | {other}, hör mir zu.
 | Ich war schon einmal hier. | Vertrau mir, nur dieses eine Mal. | Es ging nie um {obj}.
 | Jemand war vor uns hier. | Dann machen wir es gemeinsam. | Ich habe keine Angst mehr.
 | Sieh nur, dort drüben!
@titles {word} | {name}: {word} | {name} {in_loc} | {word} {in_loc} | {name} allein | {loc}
@visual {subject} {verb} {obj} {in_loc}, {light}. Stil: {style}; Kamera: {camera}.
@logline {idea}: {name} muss {goal}, bevor es zu spät ist. @goals {obj} zurückholen
 | {obj} beschützen | {obj} entschlüsseln @with , gemeinsam mit {other} @stranger ein Fremder
@person Frau | Mann @ident {person}, {build} @build hochgewachsen | klein | schlank
 | breitschultrig
@hair silbernes Haar | kurzes schwarzes Haar | geflochtenes rotbraunes Haar | kahl rasierter Kopf
 | lockiges braunes Haar
@acc roter Schal | langer grauer Mantel | runde Brille | Ledertasche | gelbe Regenjacke
 | silberner Ohrring @roles Protagonistin=Protagonist | Mentorin=Mentor | Rivalin=Rivale
 | Verbündete=Verbündeter | Zeugin=Zeuge
"""

# Alternating feminine, masculine: index parity gives the grammatical gender of descriptions.
_NAMES = (
    *("Mara", "Elias", "Noor", "Tomas", "Ines", "Kai", "Lena", "Ravi", "Sofia", "Jonas"),
    *("Amara", "Leo", "Yara", "Mateo", "Iris", "Oskar"),
)
_ACT_EDGES = (0.1, 0.42, 0.58, 0.8, 0.94)  # setup|rising|midpoint|crisis|climax|resolution
_TALK = (0, 1, 1, 2, 2, 3)  # how many lines of dialogue a scene draws
_Words = tuple[str, ...]


class _Lang(NamedTuple):
    w: dict[str, _Words]  # flat lists; single templates are one-item lists
    acts: dict[str, tuple[_Words, ...]]  # one list per act: verbs, tword, narr
    locs: tuple[tuple[str, str], ...]  # (name, "in ..." phrase)
    low: tuple[tuple[str, str], ...]  # the same, lower-cased, to find them in text
    roles: tuple[tuple[str, str], ...]  # (feminine, masculine)


def _pairs(items: _Words) -> tuple[tuple[str, str], ...]:
    return tuple((a, b or a) for a, _, b in (x.partition("=") for x in items))


def _lang(block: str) -> _Lang:
    """Parse a block once, at import, so that each call only indexes tuples."""
    t: dict[str, tuple[_Words, ...]] = {}
    for chunk in block.split("@")[1:]:
        key, _, body = " ".join(chunk.split()).partition(" ")
        t[key] = tuple(tuple(g.split(" | ")) for g in body.split(" || "))
    w = {k: v[0] for k, v in t.items()}
    w["solo"] = tuple(x for x in w["lines"] if "{other}" not in x)
    w["objlow"] = tuple(x.lower() for x in w["obj"])
    locs = _pairs(w["loc"])
    low = tuple((a.lower(), b.lower()) for a, b in locs)
    return _Lang(w, {k: t[k] for k in ("verbs", "tword", "narr")}, locs, low, _pairs(w["roles"]))


_LANGS = {"en": _lang(_EN), "es": _lang(_ES), "fr": _lang(_FR), "de": _lang(_DE)}


class _Cast(NamedTuple):
    names: _Words
    roles: _Words
    idents: dict[str, str]  # name -> visual identity; cached and shared, never mutate
    obj: int  # the story's key object, by index: the same object in every language


def _rng(key: str) -> random.Random:
    """A generator fixed by ``key`` alone: hashlib is stable across processes, hash() is not."""
    return random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=16).digest()))


def _language(request: ScriptRequest) -> tuple[str, _Lang]:
    code = request.language.split("-")[0]
    return (code, _LANGS[code]) if code in _LANGS else ("en", _LANGS["en"])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _act(i: int, total: int) -> int:
    """Act of the 0-based position i: 0 setup .. 5 resolution; the first sets up, the last ends."""
    return bisect.bisect_right(_ACT_EDGES, i / (total - 1) if total > 1 else 0.0)


@lru_cache(maxsize=512)
def _cast(seed: int, idea: str, code: str) -> _Cast:
    w, roles = _LANGS[code].w, _LANGS[code].roles
    rng = _rng(f"cast|{seed}|{idea}")  # no language in the key: the same people everywhere
    n = rng.randint(2, 4)
    people = rng.sample(range(len(_NAMES)), n)
    role_ids = (0, *rng.sample(range(1, len(roles)), n - 1))
    accs = rng.sample(range(len(w["acc"])), n)
    idents: dict[str, str] = {}
    for p, acc in zip(people, accs, strict=True):
        build, hair = rng.randrange(len(w["build"])), rng.randrange(len(w["hair"]))
        body = w["ident"][0].format(person=w["person"][p % 2], build=w["build"][build])
        idents[_NAMES[p]] = f"{body}, {w['acc'][acc]}, {w['hair'][hair]}"
    role_words = tuple(roles[r][p % 2] for r, p in zip(role_ids, people, strict=True))
    return _Cast(tuple(_NAMES[p] for p in people), role_words, idents, rng.randrange(len(w["obj"])))


def make_cast(request: ScriptRequest) -> list[Character]:
    """The story's 2-4 characters, shared by the outline and by every scene of the request."""
    cast = _cast(request.seed, request.idea, _language(request)[0])
    return [
        Character(name=n, role=r, visual_identity=cast.idents[n])
        for n, r in zip(cast.names, cast.roles, strict=True)
    ]


def make_outline(request: ScriptRequest, total: int) -> Outline:
    """Plan one beat per scene along a six-act arc, so that scenes written apart still cohere."""
    code, lang = _language(request)
    cast, w = _cast(request.seed, request.idea, code), lang.w
    names, key_obj = cast.names, w["obj"][cast.obj]
    rng = _rng(f"outline|{request.seed}|{request.idea}|{total}")
    beats: list[str] = []
    loc = rng.randrange(len(lang.locs))
    for i in range(total):
        act = _act(i, total)
        lead = names[0] if act in (0, 4, 5) and rng.random() < 0.7 else rng.choice(names)
        if i and rng.random() > 0.35:  # otherwise stay: consecutive beats often share a place
            loc = rng.randrange(len(lang.locs))
        obj = key_obj if rng.random() < 0.75 else rng.choice(w["obj"])
        beat = f"{lead} {rng.choice(lang.acts['verbs'][act])} {obj} {lang.locs[loc][1]}"
        if rng.random() < 0.5:
            beat += w["with"][0].format(other=rng.choice([n for n in names if n != lead]))
        beats.append(beat + ".")
    words = request.idea.split()
    idea, title = " ".join(words), " ".join(words[:6]) + ("…" if len(words) > 8 else "")
    idea = idea if len(idea) <= 200 else idea[:200].rsplit(" ", 1)[0] + "…"
    goal = rng.choice(w["goals"]).format(obj=key_obj)
    return Outline(
        title=_cap(title if len(words) > 8 else idea).rstrip(".,;:!?"),
        logline=w["logline"][0].format(idea=_cap(idea.rstrip(" .")), name=names[0], goal=goal),
        characters=make_cast(request),
        beats=beats,
    )


def _first_line(text: str) -> str:
    """One clean line without its final period, at most 160 characters: a summary's shape."""
    line = (text.strip().splitlines() or [""])[0].strip().rstrip(".")
    return line if len(line) <= 160 else line[:157] + "…"


def _find_name(text: str, name: str) -> int:
    """Where ``name`` occurs as a whole word ("Ines" is not in "inesperado"), else -1."""
    i = text.find(name)
    while i >= 0:
        end = i + len(name)
        if (i == 0 or not text[i - 1].isalpha()) and (end == len(text) or not text[end].isalpha()):
            return i
        i = text.find(name, i + 1)
    return -1


def _find_loc(text: str, lang: _Lang) -> int:
    low = text.lower()
    return next((i for i, (a, b) in enumerate(lang.low) if b in low or a in low), -1)


def make_scene(task: SceneTask) -> SceneDraft:
    """Write one scene: it follows the beat if any and picks up from the last summary if any."""
    req, ctx = task.request, task.context
    code, lang = _language(req)
    w = lang.w
    cast = _cast(req.seed, req.idea, code)
    names, idents = cast.names, cast.idents
    if ctx.outline and ctx.outline.characters:  # the plan's cast wins, whoever wrote it
        names = tuple(c.name for c in ctx.outline.characters)
        idents = {c.name: c.visual_identity for c in ctx.outline.characters}
    beat = _first_line(ctx.beat) if ctx.beat else ""
    prev = _first_line(ctx.previous[-1][1]) if ctx.previous else ""
    rng = _rng(f"scene|{req.seed}|{req.idea}|{task.index}|{task.total}|{beat}|{prev}")
    act = _act(task.index - 1, task.total)
    in_beat = [n for at, n in sorted((_find_name(beat, n), n) for n in names) if at >= 0]
    lead = in_beat[0] if in_beat else names[0] if rng.random() < 0.45 else rng.choice(names)
    chars = [lead, *in_beat[1:3]]
    pool = [n for n in names if n not in chars]
    rng.shuffle(pool)
    chars += pool[: max(0, rng.choice((1, 2, 2, 3)) - len(chars))]
    other = chars[1] if len(chars) > 1 else w["stranger"][0]
    loc = _find_loc(beat, lang) if beat else -1
    if loc < 0 and prev and rng.random() < 0.6:  # continuity: stay where the last scene was
        loc = _find_loc(prev, lang)
    loc_name, in_loc = lang.locs[loc if loc >= 0 else rng.randrange(len(lang.locs))]
    low = beat.lower()
    obj = next((w["obj"][i] for i, o in enumerate(w["objlow"]) if o in low), "") if beat else ""
    obj = obj or (w["obj"][cast.obj] if rng.random() < 0.6 else rng.choice(w["obj"]))
    camera = w["cam"][0] if task.index == 1 else rng.choice(w["cam"])  # first: establish
    if task.index == task.total > 1:
        camera = w["cam"][1]  # last: pull back and let go
    verb = rng.choice(lang.acts["verbs"][act])
    slots = {"name": lead, "other": other, "obj": obj, "in_loc": in_loc, "In_loc": _cap(in_loc)}
    narration = rng.choice(lang.acts["narr"][act]).format(**slots)
    if prev:
        shown = prev if prev.split(" ", 1)[0] in names else prev[:1].lower() + prev[1:]
        narration = rng.choice(w["after"]).format(prev=shown) + " " + narration
    summary = beat or f"{lead} {verb} {obj} {in_loc}"
    if not beat and len(chars) > 1 and rng.random() < 0.4:
        summary += w["with"][0].format(other=chars[1])
    n = len(chars)
    lines = rng.sample(w["lines"] if n > 1 else w["solo"], min(n, rng.choice(_TALK)))
    talk = [
        (chars[k % n], t.format(other=chars[(k + 1) % n], obj=obj)) for k, t in enumerate(lines)
    ]
    word = rng.choice(lang.acts["tword"][act])
    title = rng.choice(w["titles"]).format(word=word, loc=loc_name, **slots)
    visual = w["visual"][0].format(
        subject=f"{lead} ({idents[lead]})" if lead in idents else lead,
        verb=verb,
        light=rng.choice(w["light"]),
        style=req.style.strip() or "cinematic",
        camera=camera,
        **slots,
    )
    return SceneDraft(
        title=_cap(title),
        visual_prompt=visual,
        narration=narration,
        characters=chars,
        location=_cap(loc_name),
        dialogues=[Dialogue(speaker=s, line=_cap(x)) for s, x in talk],
        camera=camera,
        summary=summary,
    )
