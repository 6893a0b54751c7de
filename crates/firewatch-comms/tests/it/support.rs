//! Contexts written in each language, and clean notices for the languages without templates.

use firewatch_comms::{Lang, NoticeFacts, SignalContext, TemplateKind, Templates, sample_signal};

/// The sample signal with its free text written in `lang`.
pub fn signal_in(lang: Lang) -> SignalContext {
    let mut s = sample_signal();
    let (hazard, what, details, hours) = match lang {
        Lang::En => (
            "The battery can overheat while charging and catch fire.",
            "Unplug it and keep it away from anything that can burn.",
            "We send you a prepaid return box.",
            "Monday to Saturday, 8:00 to 20:00",
        ),
        Lang::Fr => (
            "La batterie peut surchauffer pendant la charge et prendre feu.",
            "Débranchez-le et tenez-le éloigné de tout ce qui peut brûler.",
            "Nous vous envoyons une boîte de retour prépayée.",
            "du lundi au samedi, de 8 h à 20 h",
        ),
        Lang::De => (
            "Der Akku kann sich beim Laden überhitzen und in Brand geraten.",
            "Trennen Sie es vom Stromnetz und halten Sie es von brennbaren Gegenständen fern.",
            "Wir senden Ihnen einen frankierten Rücksendekarton.",
            "Montag bis Samstag, 8 bis 20 Uhr",
        ),
        Lang::Es => (
            "La batería puede sobrecalentarse durante la carga e incendiarse.",
            "Desenchúfela y manténgala alejada de cualquier objeto que pueda arder.",
            "Le enviamos una caja de devolución prepagada.",
            "de lunes a sábado, de 8:00 a 20:00",
        ),
        Lang::It | Lang::Pt => unreachable!("no built-in templates in {lang}"),
    };
    s.hazard_description = hazard.into();
    s.what_to_do = what.into();
    s.remedy.details = Some(details.into());
    s.contact.hours = Some(hours.into());
    s.summary = None;
    s
}

pub fn facts() -> NoticeFacts {
    NoticeFacts::from(&sample_signal())
}

/// A clean notice in `lang`: the default template rendered for en, fr, de, es; written by
/// hand (following the same structure) for it and pt.
pub fn clean_notice(lang: Lang) -> String {
    match lang {
        Lang::It => IT_NOTICE.to_string(),
        Lang::Pt => PT_NOTICE.to_string(),
        _ => {
            let r = Templates::new()
                .render(TemplateKind::RecallNotice, lang.as_str(), &signal_in(lang))
                .expect("default notice renders");
            assert_eq!(r.lang, lang);
            r.text
        }
    }
}

const IT_NOTICE: &str = "RICHIAMO DI SICUREZZA DEL PRODOTTO

Voltra PB-20K (power bank da 20.000 mAh)
Immagine del prodotto: https://example.invalid/img/pb-20k.jpg

Prodotti interessati
- Marca: Voltra
- Modello: PB-20K
- Numeri di lotto: L2405, L2406
- Numeri di serie: VPB20K2405000001 to VPB20K2406099999
- Codice a barre (GTIN): 3700000000017

Il pericolo
Rischio di surriscaldamento e di incendio. La batteria può surriscaldarsi durante la ricarica e prendere fuoco.

Cosa dovete fare
Smettete immediatamente di usare questo prodotto e scollegatelo.

Il vostro rimedio
Avete diritto a un rimborso integrale del prezzo pagato o a una sostituzione gratuita. Non dovrete pagare nulla.

Contatto
Voltra Devices SAS, telefono +39 02 1234 5678, e-mail recall@voltra.example
";

const PT_NOTICE: &str = "RECOLHA DE PRODUTO POR MOTIVOS DE SEGURANÇA

Voltra PB-20K (power bank de 20 000 mAh)
Imagem do produto: https://example.invalid/img/pb-20k.jpg

Produtos abrangidos
- Marca: Voltra
- Modelo: PB-20K
- Números de lote: L2405, L2406
- Números de série: VPB20K2405000001 to VPB20K2406099999
- Código de barras (GTIN): 3700000000017

O perigo
Risco de sobreaquecimento e de incêndio. A bateria pode sobreaquecer durante o carregamento e incendiar-se.

O que deve fazer
Deixe de usar este produto imediatamente e desligue-o da corrente.

A sua solução
Tem direito a um reembolso integral do preço pago ou a uma substituição gratuita. Não paga nada.

Contacto
Voltra Devices SAS, telefone +351 21 123 4567, e-mail recall@voltra.example
";
