"""The simulated LLM's words in four languages, as template blocks parsed once at import.

Data apart from the grammar (``simulated_text``) that reads it.
"""

# Word lists: "@key item | item"; " || " separates the six acts; "a=b" pairs a location's name
# with its "in ..." phrase, or a role's feminine and masculine forms. Lists keep the same lengths
# in every language, so that one seed tells the same story in each of them. "@called" puts a
# name beside the idea's subject ("Mara the fox", "el zorro Mara"); "@setting" is a bible's.
EN = """
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
@when at dawn | that night | in the rain | at noon | before sunrise | at dusk | after midnight
 | on a grey morning
@mood Rain begins to fall. | Night falls. | The wind rises. | Nobody speaks. | The light fades.
 | A bell rings somewhere. | Everything holds its breath. | The air smells of smoke.
 | A door creaks. | Somewhere, a dog barks.
@and and @called {name} {subject}
@setting The story unfolds {in_loc} and around it, {era}.
@era in the present day | one winter long ago | in a near future | over one long summer
@summary {who} {verb} {obj} {in_loc} {when}{with_} | {In_loc}, {who} {verb} {obj} {when}{with_}
 | {When}, {who} {verb} {obj} {in_loc}{with_}
"""

ES = """
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
@when al amanecer | esa noche | bajo la lluvia | a mediodía | antes del alba | al anochecer
 | pasada la medianoche | una mañana gris
@mood Empieza a llover. | Cae la noche. | Se levanta el viento. | Nadie habla.
 | La luz se apaga. | Suena una campana a lo lejos. | Todo contiene el aliento.
 | El aire huele a humo. | Cruje una puerta. | A lo lejos ladra un perro.
@and y @called {subject} {name}
@setting La historia transcurre {in_loc} y sus alrededores, {era}.
@era en la actualidad | un invierno de hace mucho | en un futuro cercano
 | durante un largo verano
@summary {who} {verb} {obj} {in_loc} {when}{with_} | {In_loc}, {who} {verb} {obj} {when}{with_}
 | {When}, {who} {verb} {obj} {in_loc}{with_}
"""

FR = """
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
@when à l'aube | cette nuit-là | sous la pluie | à midi | avant le lever du jour
 | au crépuscule | après minuit | par un matin gris
@mood Il commence à pleuvoir. | La nuit tombe. | Le vent se lève. | Personne ne parle.
 | La lumière décline. | Une cloche sonne au loin. | Tout retient son souffle.
 | L'air sent la fumée. | Une porte grince. | Au loin, un chien aboie.
@and et @called {subject} {name}
@setting L'histoire se déroule {in_loc} et aux alentours, {era}.
@era de nos jours | un hiver d'autrefois | dans un futur proche | au cours d'un long été
@summary {who} {verb} {obj} {in_loc} {when}{with_} | {In_loc}, {who} {verb} {obj} {when}{with_}
 | {When}, {who} {verb} {obj} {in_loc}{with_}
"""

DE = """
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
@when bei Tagesanbruch | in jener Nacht | im Regen | am Mittag | vor Sonnenaufgang
 | in der Dämmerung | nach Mitternacht | an einem grauen Morgen
@mood Es beginnt zu regnen. | Die Nacht bricht herein. | Der Wind frischt auf.
 | Niemand spricht. | Das Licht schwindet. | Irgendwo läutet eine Glocke.
 | Alles hält den Atem an. | Die Luft riecht nach Rauch. | Eine Tür knarrt.
 | In der Ferne bellt ein Hund.
@and und @called {subject} {name}
@setting Die Geschichte spielt {in_loc} und in der Umgebung, {era}.
@era in der Gegenwart | in einem Winter vor langer Zeit | in naher Zukunft
 | während eines langen Sommers
@summary {who} {verb} {obj} {in_loc} {when}{with_} | {In_loc} {verb} {who} {obj} {when}{with_}
 | {When} {verb} {who} {obj} {in_loc}{with_}
"""
