package bot

import "msgsys/lang"

// sentencesPT are the bot's posts in Brazilian Portuguese: student chat
// about studies, distributed systems, the weather and coffee.
var sentencesPT = []string{
	"Alguém já começou a lista de exercícios de sistemas distribuídos?",
	"Bom dia, pessoal! Quem vai na monitoria hoje?",
	"Acabei de entender o relógio de Lamport, finalmente.",
	"Tá chovendo muito aqui no campus, levem guarda-chuva.",
	"Preciso de um café urgente antes da aula das oito.",
	"Alguém sabe se a prova vai cobrar o algoritmo do valentão?",
	"O algoritmo de Berkeley é mais simples do que parecia.",
	"Que calor hoje, o ar-condicionado do laboratório quebrou de novo.",
	"Quem topa estudar na biblioteca depois do almoço?",
	"O ZeroMQ é bem prático para montar um broker.",
	"Esqueci de fazer o commit ontem, alguém me lembra hoje à noite.",
	"O café da cantina melhorou ou é impressão minha?",
	"Replicação é fácil até um servidor cair no meio da escrita.",
	"Alguém tem o slide da aula sobre exclusão mútua?",
	"Hoje o dia amanheceu nublado, bom para ficar estudando.",
	"Meu servidor travou na eleição, acho que esqueci um timeout.",
	"Vou passar um café, alguém quer?",
	"A entrega do projeto é sexta ou segunda?",
	"Publish-subscribe resolve metade dos problemas do trabalho.",
	"Que frio! Nem parece que estamos no verão.",
	"Alguém conseguiu rodar os testes com o -race ligado?",
	"Estou revisando consistência eventual para a prova.",
	"O professor disse que a aula de quinta vai ser no laboratório.",
	"Mais um café e eu termino esse relatório.",
	"Alguém quer formar grupo para o próximo trabalho?",
	"O MessagePack é bem mais compacto que JSON, gostei.",
	"Choveu a noite toda e a rua da faculdade alagou.",
	"Sincronizar relógio físico é sempre uma aventura.",
	"Vou almoçar e já volto, guardem um lugar na sala de estudos.",
	"Boa noite, pessoal! Amanhã tem mais.",
}

// sentencesEN are the same kind of posts in English, for --lang en.
var sentencesEN = []string{
	"Has anyone started the distributed systems problem set?",
	"Good morning, everyone! Who is going to the tutoring session today?",
	"I finally understand Lamport clocks.",
	"It is pouring on campus, bring an umbrella.",
	"I need a coffee before the eight o'clock class.",
	"Does anyone know if the exam covers the bully algorithm?",
	"The Berkeley algorithm is simpler than it looked.",
	"So hot today, the lab's air conditioning broke again.",
	"Who wants to study at the library after lunch?",
	"ZeroMQ makes building a broker quite easy.",
	"I forgot to commit yesterday, remind me tonight.",
	"Is the cafeteria coffee better, or is it just me?",
	"Replication is easy until a server dies mid-write.",
	"Does anyone have the slides on mutual exclusion?",
	"Cloudy morning today, good weather for studying.",
	"My server hung during the election, I think I forgot a timeout.",
	"I'm making coffee, anyone want some?",
	"Is the project due Friday or Monday?",
	"Publish-subscribe solves half of the assignment.",
	"So cold! It doesn't feel like summer at all.",
	"Did anyone get the tests to pass with -race?",
	"I'm reviewing eventual consistency for the exam.",
	"The professor said Thursday's class will be in the lab.",
	"One more coffee and I'll finish this report.",
	"Anyone want to team up for the next assignment?",
	"MessagePack is much more compact than JSON, I like it.",
	"It rained all night and the street by the university flooded.",
	"Synchronising physical clocks is always an adventure.",
	"Going to lunch, save me a seat in the study room.",
	"Good night, everyone! More tomorrow.",
}

// sentences returns the posts in language l.
func sentences(l string) []string {
	if l == lang.EN {
		return sentencesEN
	}
	return sentencesPT
}
